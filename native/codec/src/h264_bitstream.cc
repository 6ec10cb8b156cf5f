#include "h264_bitstream.h"

#include <vector>

namespace codec {
namespace {

// Reads an RBSP (emulation prevention bytes already removed). Reads past the end yield zeros
// and set `overrun`, so a truncated header is detected rather than read out of bounds.
class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint32_t Bits(int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 1) | Bit();
    return v;
  }
  uint32_t Bit() {
    if (pos_ >= size_ * 8) {
      overrun_ = true;
      return 0;
    }
    uint32_t b = (data_[pos_ >> 3] >> (7 - (pos_ & 7))) & 1;
    pos_++;
    return b;
  }
  // ue(v), 9.1
  uint32_t Ue() {
    int zeros = 0;
    while (Bit() == 0) {
      if (overrun_ || ++zeros > 31) {
        overrun_ = true;
        return 0;
      }
    }
    return ((1u << zeros) - 1) + Bits(zeros);
  }
  int32_t Se() {
    uint32_t k = Ue();
    return (k & 1) ? static_cast<int32_t>((k + 1) / 2) : -static_cast<int32_t>(k / 2);
  }
  bool overrun() const { return overrun_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool overrun_ = false;
};

// NAL payload (after the one-byte header) without emulation prevention bytes. Only the first
// bytes are needed for the headers parsed here.
void ToRbsp(const uint8_t* nal, size_t size, std::vector<uint8_t>* out, size_t limit) {
  out->clear();
  int zeros = 0;
  for (size_t i = 1; i < size && out->size() < limit; i++) {
    if (zeros >= 2 && nal[i] == 3) {
      zeros = 0;
      continue;
    }
    zeros = nal[i] == 0 ? zeros + 1 : 0;
    out->push_back(nal[i]);
  }
}

void SkipScalingList(BitReader* r, int size) {
  int last = 8, next = 8;
  for (int j = 0; j < size; j++) {
    if (next != 0) next = (last + r->Se() + 256) % 256;
    last = next == 0 ? last : next;
  }
}

constexpr size_t kHeaderBytes = 64;

}  // namespace

void H264ReferenceTracker::ParseSps(const uint8_t* rbsp, size_t size) {
  BitReader r(rbsp, size);
  const uint32_t profile_idc = r.Bits(8);
  r.Bits(16);  // constraint flags, level_idc
  const uint32_t id = r.Ue();
  if (id >= 32) return;
  Sps sps;
  if (profile_idc == 100 || profile_idc == 110 || profile_idc == 122 || profile_idc == 244 || profile_idc == 44 ||
      profile_idc == 83 || profile_idc == 86 || profile_idc == 118 || profile_idc == 128 || profile_idc == 138 ||
      profile_idc == 139 || profile_idc == 134 || profile_idc == 135) {
    const uint32_t chroma_format_idc = r.Ue();
    if (chroma_format_idc == 3) sps.separate_colour_plane = r.Bit();
    r.Ue();   // bit_depth_luma_minus8
    r.Ue();   // bit_depth_chroma_minus8
    r.Bit();  // qpprime_y_zero_transform_bypass_flag
    if (r.Bit()) {  // seq_scaling_matrix_present_flag
      const int lists = chroma_format_idc != 3 ? 8 : 12;
      for (int i = 0; i < lists; i++) {
        if (r.Bit()) SkipScalingList(&r, i < 6 ? 16 : 64);
      }
    }
  }
  sps.log2_max_frame_num = static_cast<int>(r.Ue()) + 4;
  const uint32_t poc_type = r.Ue();
  if (poc_type == 0) {
    r.Ue();  // log2_max_pic_order_cnt_lsb_minus4
  } else if (poc_type == 1) {
    r.Bit();  // delta_pic_order_always_zero_flag
    r.Se();   // offset_for_non_ref_pic
    r.Se();   // offset_for_top_to_bottom_field
    const uint32_t cycle = r.Ue();
    for (uint32_t i = 0; i < cycle && i < 256; i++) r.Se();
  }
  r.Ue();  // max_num_ref_frames
  sps.gaps_allowed = r.Bit();
  if (r.overrun() || sps.log2_max_frame_num > 16) return;
  sps.valid = true;
  sps_[id] = sps;
}

void H264ReferenceTracker::ParsePps(const uint8_t* rbsp, size_t size) {
  BitReader r(rbsp, size);
  const uint32_t id = r.Ue();
  const uint32_t sps_id = r.Ue();
  if (r.overrun() || id >= 256 || sps_id >= 32) return;
  pps_[id].valid = true;
  pps_[id].sps_id = static_cast<int>(sps_id);
}

void H264ReferenceTracker::ParseSliceHeader(const uint8_t* rbsp, size_t size, AccessUnitInfo* info) {
  BitReader r(rbsp, size);
  const uint32_t first_mb = r.Ue();
  r.Ue();  // slice_type
  const uint32_t pps_id = r.Ue();
  if (r.overrun() || first_mb != 0 || pps_id >= 256 || !pps_[pps_id].valid) return;
  const Sps& sps = sps_[pps_[pps_id].sps_id];
  if (!sps.valid) return;
  if (sps.separate_colour_plane) r.Bits(2);
  info->frame_num = static_cast<int>(r.Bits(sps.log2_max_frame_num));
  if (r.overrun()) return;
  info->log2_max_frame_num = sps.log2_max_frame_num;
  info->gaps_allowed = sps.gaps_allowed;
  info->slice_parsed = true;
}

void H264ReferenceTracker::Inspect(const uint8_t* data, size_t size, AccessUnitInfo* info) {
  *info = AccessUnitInfo();
  std::vector<uint8_t>& rbsp = rbsp_;
  ForEachNal(data, size, [&](const uint8_t* nal, size_t n) {
    const int type = nal[0] & 0x1f;
    const int ref_idc = (nal[0] >> 5) & 3;
    if (type == kNalSps) {
      info->has_sps = true;
      ToRbsp(nal, n, &rbsp, kHeaderBytes);
      ParseSps(rbsp.data(), rbsp.size());
    } else if (type == kNalPps) {
      info->has_pps = true;
      ToRbsp(nal, n, &rbsp, kHeaderBytes);
      ParsePps(rbsp.data(), rbsp.size());
    } else if (type >= kNalSlice && type <= kNalIdr) {
      info->has_slice = true;
      if (type == kNalIdr) info->has_idr = true;
      if (ref_idc > info->nal_ref_idc) info->nal_ref_idc = ref_idc;
      if (!info->slice_parsed) {
        ToRbsp(nal, n, &rbsp, 16);
        ParseSliceHeader(rbsp.data(), rbsp.size(), info);
      }
    }
  });
}

bool H264ReferenceTracker::HasGap(const AccessUnitInfo& info) const {
  if (info.has_idr) return false;
  // Without a previous reference picture (start, or after Reset) nothing can be referenced.
  if (!have_prev_) return true;
  // Unparsed header (unknown PPS/SPS): the decoder could not use it either.
  if (!info.slice_parsed) return true;
  if (info.gaps_allowed) return false;
  const int max = 1 << info.log2_max_frame_num;
  return info.frame_num != prev_ref_frame_num_ && info.frame_num != (prev_ref_frame_num_ + 1) % max;
}

void H264ReferenceTracker::Accept(const AccessUnitInfo& info) {
  if (info.has_idr) {
    // An IDR's frame_num is 0 (7.4.3), parsed or not.
    have_prev_ = true;
    prev_ref_frame_num_ = 0;
  } else if (info.slice_parsed && info.nal_ref_idc != 0) {
    prev_ref_frame_num_ = info.frame_num;
  }
}

}  // namespace codec
