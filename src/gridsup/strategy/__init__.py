"""gridsup.strategy"""
