"""Hand-off to people: review sheets out and back (`sheets`) and Label Studio projects (`labelstudio`)."""
