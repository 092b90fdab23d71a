from datetime import timedelta

BEAT_SCHEDULE = {"fake-sweep": {"task": "fakeapp.sweep_task", "schedule": timedelta(minutes=5)}}
