"""Imported first by the forkserver, before the preload: the collector stays off while
the preload imports (the zygote, imported last, freezes what they built and turns it
back on).

Python's own advice for a server that forks without exec: a collection in the server
frees garbage from pages full of live objects, and whatever a child allocates later
fills those holes, a few bytes on many shared pages, each then copied. With the
collector off the import-time garbage stays (frozen with the rest, in the server only)
and the children allocate on pages of their own.
"""

import gc

gc.disable()
