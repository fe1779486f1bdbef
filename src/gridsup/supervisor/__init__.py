"""gridsup.supervisor"""
