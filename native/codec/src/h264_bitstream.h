// Just enough H.264 syntax to know, before decoding, whether an access unit can be decoded
// correctly: which NAL units it holds, and whether a reference picture went missing since the
// last one (a gap in frame_num, 7.4.3). libavcodec conceals such gaps by repeating old pictures,
// which hides the loss from the caller; a WebRTC receiver must instead ask for a keyframe (PLI)
// and show nothing broken meanwhile.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <vector>

namespace codec {

enum H264NalType : int {
  kNalSlice = 1,
  kNalIdr = 5,
  kNalSei = 6,
  kNalSps = 7,
  kNalPps = 8,
};

struct AccessUnitInfo {
  bool has_idr = false;
  bool has_slice = false;  // any VCL NAL (types 1..5)
  bool has_sps = false;
  bool has_pps = false;
  // First slice of the picture (first_mb_in_slice == 0), when parsed.
  bool slice_parsed = false;
  int nal_ref_idc = 0;
  int frame_num = 0;
  int log2_max_frame_num = 0;
  bool gaps_allowed = false;
};

// Remembers SPS/PPS fields across access units and tracks frame_num.
class H264ReferenceTracker {
 public:
  // Parses an Annex B access unit (SPS/PPS update the tracker's tables).
  void Inspect(const uint8_t* data, size_t size, AccessUnitInfo* info);
  // True when `info` is a non-IDR picture whose frame_num shows a lost reference picture.
  bool HasGap(const AccessUnitInfo& info) const;
  // Records a picture as decoded (its frame_num becomes PrevRefFrameNum if it is a reference).
  void Accept(const AccessUnitInfo& info);
  // Forget the reference chain (after a loss): only an IDR is accepted next.
  void Reset() { have_prev_ = false; }

 private:
  struct Sps {
    bool valid = false;
    int log2_max_frame_num = 4;
    bool separate_colour_plane = false;
    bool gaps_allowed = false;
  };
  struct Pps {
    bool valid = false;
    int sps_id = 0;
  };
  void ParseSps(const uint8_t* rbsp, size_t size);
  void ParsePps(const uint8_t* rbsp, size_t size);
  void ParseSliceHeader(const uint8_t* rbsp, size_t size, AccessUnitInfo* info);

  Sps sps_[32];
  Pps pps_[256];
  bool have_prev_ = false;
  int prev_ref_frame_num_ = 0;
  std::vector<uint8_t> rbsp_;  // scratch, reused
};

// Calls fn(nal, size) for each NAL unit of an Annex B buffer (start codes stripped).
template <typename Fn>
void ForEachNal(const uint8_t* data, size_t size, Fn fn) {
  size_t i = 0;
  size_t start = SIZE_MAX;
  while (i + 2 < size) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) {
      if (start != SIZE_MAX) {
        size_t end = i;
        // A 4-byte start code's leading zero belongs to the start code, not the NAL.
        while (end > start && data[end - 1] == 0) end--;
        if (end > start) fn(data + start, end - start);
      }
      i += 3;
      start = i;
    } else {
      i++;
    }
  }
  if (start != SIZE_MAX && start < size) fn(data + start, size - start);
}

}  // namespace codec
