"""The actor runtime: an actor's lifecycle and run loop (``actor``), its declared sockets
(``sockets``), their reading, writing and dispatch to handlers (``dispatch``) and where
they live (``endpoints``), the child process's entry point and the forkserver zygote
(``entry``, ``zygote``, ``zygote_gc``), liveness checks, request/reply over a DEALER
(``requests``), and the link to the supervisor (``supervisor_link``).

It knows no actor kind: the kinds live in ``gridsup.actors.<kind>`` and build on it.
"""
