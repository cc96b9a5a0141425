"""Page routes: thin, like the API's routers."""
