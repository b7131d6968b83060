"""The data manager service: Viam's Sync / Reconfigure / DoCommand / Close over the core."""

from ._datamanager import DataManager, DataManagerStatistics

__all__ = ["DataManager", "DataManagerStatistics"]
