"""Where items come from: feeds, web pages, import files and the push API."""
