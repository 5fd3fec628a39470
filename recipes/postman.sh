# The guide's Postman settings: Grant Type "Refresh Token", Client Authentication
# "Send as Basic Auth header". Postman sends grant_type and refresh_token in a form body and
# the client id and secret as HTTP Basic credentials; this is that request.
curl -X POST "https://<your-instance>.processmaker.net/oauth/token" \
     -u "<your-client-id>:<your-client-secret>" \
     -d "grant_type=refresh_token&refresh_token=<your-refresh-token>"
