"""``python -m tools.rasa_run ARGS``: ``rasa ARGS --auth-token $RASA_TOKEN``, the token taken from
the environment inside the process.

Rasa reads its API token only from the command line, and ``ps`` shows every local user every
process's command line; a process's environment is readable by its owner alone. So the
launchers (:func:`tools.procs.rasa_server`) start Rasa through this module and pass the token in
``RASA_TOKEN``, never as an argument.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    token = (os.environ.get("RASA_TOKEN") or "").strip()
    if not token:
        print("error: RASA_TOKEN is not set; Rasa's HTTP API never runs without it "
              "(tools.env.child_env provides one)", file=sys.stderr)
        return 2
    if "--auth-token" in sys.argv[1:]:
        print("error: pass the token in RASA_TOKEN, not as --auth-token", file=sys.stderr)
        return 2
    # "--auth-token=VALUE", never "--auth-token VALUE": a token that starts with "-" (1 in 64
    # of token_urlsafe's) is otherwise read by argparse as an option, and Rasa does not start.
    sys.argv = ["rasa", *sys.argv[1:], f"--auth-token={token}"]
    from rasa.__main__ import main as rasa_main

    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
