STAFF_PERMISSIONS = {"support": ["fakeapp.view_thing"]}
