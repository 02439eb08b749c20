"""The daemon's decisions: schedules, sensors, declarative automation, their ticks."""
