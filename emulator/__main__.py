"""`python -m emulator [--host H] [--port P]`: serve the provider emulator until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from emulator.app import create_app
from emulator.server import make_server
from emulator.settings import EmulatorSettings

logger = logging.getLogger("emulator")


def main(argv: list[str] | None = None) -> None:
    settings = EmulatorSettings()
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    server = make_server(create_app(settings.latency_scale), args.host, args.port)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %s: stopping", signum)
        server.server_close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    logger.info(
        "provider emulator listening on http://%s:%s latency_scale=%s",
        args.host,
        server.server_port,
        settings.latency_scale,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
