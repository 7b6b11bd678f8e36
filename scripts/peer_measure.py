"""What the peer scripts (implicit_*_scale.py, numpy_ease.py, hnswlib_ann.py) report about
their own process: CPU seconds and peak RSS, measured the same way as attune's side of each
comparison. Imported from the scripts' own directory; never imported by the product."""

import resource


def cpu_seconds():
    """User + system CPU seconds of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mib():
    """Peak resident set size of this process, MiB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
