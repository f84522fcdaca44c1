# mypy: ignore-errors
# (This script runs under Debian's /usr/bin/python3, whose `gi` bindings are not installed in the
# venv that mypy checks and ship no type stubs; the fixtures in tests/rtsp/fixtures.py are typed.)
"""A small, real RTSP server for the tests, built on GStreamer's RTSP server library.

Run with Debian's own interpreter (the `gi` bindings are installed for it, not for the venv):

    /usr/bin/python3 tests/rtsp/server.py '{"port": 0, "mounts": [...]}'
    /usr/bin/python3 tests/rtsp/server.py --config mounts.json

The config is a JSON object; unknown keys are an error that names them:

    port       TCP port to listen on; 0 picks a free one (the READY line says which).
    host       address to bind, default "127.0.0.1".
    auth       how mounts with a username ask for it: "basic" (the default) or "digest" (RFC 2617
               MD5 without qop, as GStreamer does it). One method per server: PyGObject cannot
               pass the two together (the flags are typed as an enum).
    mounts     list of mounts, each:
        path      "/name", the URL path.
        clip      a video file: .mp4/.mov (qtdemux), .mkv (matroskademux), .ts (tsdemux) or an
                  elementary stream .h264/.264/.h265/.265/.hevc. Served as it is, never re-encoded.
        codec     "h264" (default) or "h265": the codec of the clip.
        launch    instead of clip: a gst-launch line ending in a payloader named pay0.
        loop      true: serve the clip endlessly (an elementary stream read in a loop by
                  multifilesrc, timestamps continued by the parser). Only for elementary streams.
        shared    true (default): all clients of the mount share one pipeline.
        username, password   optional: authentication (see "auth") for this mount only.

Prints "READY <port>" on stdout once it serves; exits 0 on SIGTERM or SIGINT, and with
--exit-with-stdin also when its stdin reaches end of file: the test process holds the other end
of that pipe, so the server goes away with it even when it is killed outright.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

CODECS = {"h264": ("h264parse", "rtph264pay"), "h265": ("h265parse", "rtph265pay")}
DEMUXERS = {".mp4": "qtdemux", ".mov": "qtdemux", ".mkv": "matroskademux", ".ts": "tsdemux"}
ELEMENTARY = {".h264", ".264", ".h265", ".265", ".hevc"}
SERVER_KEYS = {"port", "host", "mounts", "auth"}
AUTH_METHODS = {"basic": GstRtsp.RTSPAuthMethod.BASIC, "digest": GstRtsp.RTSPAuthMethod.DIGEST}
MOUNT_KEYS = {"path", "clip", "codec", "launch", "loop", "shared", "username", "password"}
ANONYMOUS = "anonymous"


class ConfigError(ValueError):
    pass


def check_keys(what: str, given: dict, allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ConfigError(f"{what}: unknown key(s) {', '.join(unknown)}")


def quoted(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def launch_line(mount: dict) -> str:
    """The pipeline of one mount, in gst-launch syntax, in parentheses as the factory wants."""
    path = mount["path"]
    if "launch" in mount:
        if "clip" in mount or mount.get("loop"):
            raise ConfigError(f"mount {path}: 'launch' excludes 'clip' and 'loop'")
        line = mount["launch"].strip()
        return line if line.startswith("(") else f"( {line} )"
    if "clip" not in mount:
        raise ConfigError(f"mount {path}: needs 'clip' or 'launch'")
    codec = mount.get("codec", "h264")
    if codec not in CODECS:
        raise ConfigError(f"mount {path}: codec must be one of {', '.join(CODECS)}, not {codec!r}")
    parser, payloader = CODECS[codec]
    clip = Path(mount["clip"]).resolve()
    if not clip.is_file():
        raise ConfigError(f"mount {path}: no such clip file {clip}")
    suffix = clip.suffix.lower()
    tail = f"{parser} name=parse ! {payloader} name=pay0 pt=96 config-interval=1"
    if mount.get("loop"):
        if suffix not in ELEMENTARY:
            raise ConfigError(
                f"mount {path}: 'loop' needs an elementary stream (.h264/.h265), not {suffix}"
            )
        if "%" in str(clip):
            raise ConfigError(f"mount {path}: multifilesrc cannot loop a path containing '%'")
        return f"( multifilesrc location={quoted(str(clip))} loop=true ! {tail} )"
    if suffix in ELEMENTARY:
        return f"( filesrc location={quoted(str(clip))} ! {tail} )"
    if suffix in DEMUXERS:
        return f"( filesrc location={quoted(str(clip))} ! {DEMUXERS[suffix]} ! {tail} )"
    raise ConfigError(f"mount {path}: cannot serve a {suffix or 'suffix-less'} file")


def stamp_presentation_times(
    _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia
) -> None:
    """An elementary stream has no timestamps: the parser counts decode times (DTS) from the
    frame rate, continuing across loops, but leaves presentation times (PTS) unset, and then
    neither the payloader nor the sinks pace the stream (it is sent as fast as it is read). Use
    the DTS as PTS: exact for clips without B-frames (like most cameras' streams), and still the
    right pace for clips with them."""

    def probe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        buffer = info.get_buffer()
        if buffer is not None and buffer.pts == Gst.CLOCK_TIME_NONE:
            buffer.pts = buffer.dts
        return Gst.PadProbeReturn.OK

    parser = media.get_element().get_by_name("parse")
    parser.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)


def build_server(config: dict) -> GstRtspServer.RTSPServer:
    check_keys("config", config, SERVER_KEYS)
    mounts = config.get("mounts", [])
    if not mounts:
        raise ConfigError("config: no mounts")
    server = GstRtspServer.RTSPServer()
    server.set_address(config.get("host", "127.0.0.1"))
    server.set_service(str(int(config.get("port", 0))))

    # One role per distinct (username, password), so a password opens only its own mounts.
    roles: dict[tuple[str, str], str] = {}
    for mount in mounts:
        check_keys(f"mount {mount.get('path', '?')}", mount, MOUNT_KEYS)
        if not str(mount.get("path", "")).startswith("/"):
            raise ConfigError(f"mount {mount.get('path')!r}: path must start with '/'")
        if ("username" in mount) != ("password" in mount):
            raise ConfigError(f"mount {mount['path']}: give both username and password, or neither")
        if "username" in mount:
            pair = (str(mount["username"]), str(mount["password"]))
            roles.setdefault(pair, f"credential{len(roles)}")

    method = config.get("auth", "basic")
    if method not in AUTH_METHODS:
        raise ConfigError(f"config: auth must be one of {', '.join(AUTH_METHODS)}, not {method!r}")
    if roles:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(AUTH_METHODS[method])
        anonymous = GstRtspServer.RTSPToken()
        anonymous.set_string("media.factory.role", ANONYMOUS)
        auth.set_default_token(anonymous)
        for (username, password), role in roles.items():
            token = GstRtspServer.RTSPToken()
            token.set_string("media.factory.role", role)
            if method == "digest":
                auth.add_digest(username, password, token)
            else:
                auth.add_basic(GstRtspServer.RTSPAuth.make_basic(username, password), token)
        server.set_auth(auth)

    seen: set[str] = set()
    for mount in mounts:
        path = mount["path"]
        if path in seen:
            raise ConfigError(f"mount {path}: given twice")
        seen.add(path)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(mount))
        factory.set_shared(bool(mount.get("shared", True)))
        if roles:
            # Everyone may see a mount ("access"), so a client without the right password gets
            # 401 and a challenge (a missing "access" answers 404, which makes clients give
            # up without sending credentials); only the mount's own credential may "construct".
            if "username" in mount:
                constructors = [roles[(str(mount["username"]), str(mount["password"]))]]
            else:
                constructors = [ANONYMOUS, *roles.values()]
            permissions = GstRtspServer.RTSPPermissions()
            for role in [ANONYMOUS, *roles.values()]:
                permissions.add_permission_for_role(role, "media.factory.access", True)
                permissions.add_permission_for_role(
                    role, "media.factory.construct", role in constructors
                )
            factory.set_permissions(permissions)
        if "clip" in mount and Path(mount["clip"]).suffix.lower() in ELEMENTARY:
            factory.connect("media-configure", stamp_presentation_times)
        server.get_mount_points().add_factory(path, factory)
    return server


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", help="the config as a JSON string")
    parser.add_argument("--config", dest="config_file", help="a file holding the JSON config")
    parser.add_argument(
        "--exit-with-stdin", action="store_true", help="exit when stdin is closed (the parent died)"
    )
    args = parser.parse_args(argv)
    if (args.config is None) == (args.config_file is None):
        parser.error("give the config as a JSON argument or with --config FILE")
    text = args.config if args.config is not None else Path(args.config_file).read_text()
    Gst.init(None)
    try:
        config = json.loads(text)
        if not isinstance(config, dict):
            raise ConfigError("config: must be a JSON object")
        server = build_server(config)
    except (ConfigError, json.JSONDecodeError) as error:
        print(f"rtsp test server: bad config: {error}", file=sys.stderr)
        return 2

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(
            f"rtsp test server: cannot listen on {server.get_address()}:{server.get_service()}",
            file=sys.stderr,
        )
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, loop.quit)
    if args.exit_with_stdin:

        def on_stdin(_channel: GLib.IOChannel, _condition: GLib.IOCondition) -> bool:
            # Anything readable is the end of the file or an error: the parent never writes.
            if not sys.stdin.buffer.read1(4096):
                loop.quit()
                return False
            return True

        watched = GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR
        stdin = GLib.IOChannel.unix_new(sys.stdin.fileno())
        GLib.io_add_watch(stdin, GLib.PRIORITY_DEFAULT, watched, on_stdin)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
