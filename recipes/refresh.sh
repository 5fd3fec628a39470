curl -X POST "https://<your-instance>.processmaker.net/oauth/token" \
     -d "grant_type=refresh_token&refresh_token=<your-refresh-token>&client_id=<your-client-id>&client_secret=<your-client-secret>"
