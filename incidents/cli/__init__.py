"""incidents/cli"""
