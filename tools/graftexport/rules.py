"""What to do with modules whose forward does not trace one level deep."""

from .trace import TraceFailure


def lookup(m):
    return None


def fallback(m, error):
    raise TraceFailure("%s: %s: %s" % (type(m).__name__, type(error).__name__, error))
