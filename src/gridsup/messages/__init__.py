"""gridsup.messages"""
