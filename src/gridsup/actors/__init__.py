"""gridsup.actors"""
