"""incidents/core"""
