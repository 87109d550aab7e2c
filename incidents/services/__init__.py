"""incidents/services"""
