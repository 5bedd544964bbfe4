"""The test harness: throwaway servers and topologies, their fixtures, and Django's own
session tests."""
