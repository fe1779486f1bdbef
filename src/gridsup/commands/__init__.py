"""gridsup.commands"""
