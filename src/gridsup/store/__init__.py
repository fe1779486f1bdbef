"""gridsup.store"""
