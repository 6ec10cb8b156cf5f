#!/usr/bin/python3
"""A real RTSP server for the ingest tests: GStreamer's gst-rtsp-server (Debian packages
gir1.2-gst-rtsp-server-1.0, python3-gi, gstreamer1.0-plugins-{base,good,ugly}, gstreamer1.0-libav)
serving one live H.264 + AAC stream, a solid colour and a sine tone, at
rtsp://127.0.0.1:PORT/live, with RTP over TCP (interleaved) or UDP as the client asks.

Usage: rtsp-server.py PORT RRGGBB TONE_HZ. Prints "ready" once listening; runs until killed.
A line "RRGGBB" on stdin changes the picture's colour at once (the delay bench times it).
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

port, rgb, tone = sys.argv[1], sys.argv[2], sys.argv[3]
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    "( videotestsrc name=src is-live=true pattern=solid-color foreground-color=0xff%s"
    " ! video/x-raw,format=I420,width=320,height=180,framerate=15/1"
    " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15"
    " ! rtph264pay name=pay0 pt=96 config-interval=1"
    " audiotestsrc is-live=true wave=sine freq=%s"
    " ! audio/x-raw,rate=48000,channels=1 ! audioconvert ! avenc_aac"
    " ! rtpmp4gpay name=pay1 pt=97 )" % (rgb, tone)
)
# One encoder for every client; each client picks its transport (the default protocols allow
# UDP, UDP multicast and TCP).
factory.set_shared(True)
sources = []


def on_configure(_factory, media):
    sources.append(media.get_element().get_by_name("src"))


def on_stdin(stream, _condition):
    line = stream.readline().strip()
    if not line:
        return False  # stdin closed: stop watching it
    for src in sources:
        src.set_property("foreground-color", int("ff" + line, 16))
    return True


factory.connect("media-configure", on_configure)
GLib.io_add_watch(sys.stdin, GLib.IO_IN, on_stdin)
server.get_mount_points().add_factory("/live", factory)
if server.attach(None) == 0:
    sys.exit("could not listen on port " + port)
print("ready", flush=True)
GLib.MainLoop().run()
