"""The hall display page (综合屏) and its voice clips."""
