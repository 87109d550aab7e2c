"""incidents/domain"""
