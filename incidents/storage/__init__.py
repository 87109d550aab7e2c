"""incidents/storage"""
