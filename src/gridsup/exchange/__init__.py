"""gridsup.exchange"""
