"""Commonroom: a secure collaboration workspace for health and care organisations."""
