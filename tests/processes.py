"""Children started as a terminal starts them. A shell that runs a job in the background (`make test &`, nohup)
hands it SIGINT ignored, and every child inherits that: Python then installs no KeyboardInterrupt handler and
genzoo rightly leaves an ignored SIGINT ignored, so a test of Ctrl-C would see nothing happen."""

import signal


def as_from_a_terminal() -> None:
    """preexec_fn: SIGINT back to its default disposition in the child."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
