import requests

# Define the token endpoint
token_url = "https://<your-instance>.processmaker.net/oauth/token"

# Define the payload
payload = {
    "grant_type": "refresh_token",
    "refresh_token": "<your-refresh-token>",
    "client_id": "<your-client-id>",
    "client_secret": "<your-client-secret>"
}

# Make the POST request
response = requests.post(token_url, data=payload)
token_info = response.json()

# Print the new access token
print(f'New Access Token: {token_info["access_token"]}')
