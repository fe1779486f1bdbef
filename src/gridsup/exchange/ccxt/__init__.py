"""The ccxt adapter: ``CcxtExchange`` (``exchange``), the client it builds (``client``), the
conversion of ccxt's unified dicts to our value types (``convert``), how one request runs
through the budget and its retries (``requests``), order creation that never places
twice (``create``) and the one boundary where ccxt's errors become ours (``errors``).
The only package of gridsup that imports ccxt."""
