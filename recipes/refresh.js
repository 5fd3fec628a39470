
const axios = require('axios');

// Define the token endpoint
const token_url = "https://<your-instance>.processmaker.net/oauth/token";

// Define the payload
const payload = {
    grant_type: "refresh_token",
    refresh_token: "<your-refresh-token>",
    client_id: "<your-client-id>",
    client_secret: "<your-client-secret>"
};

// Make the POST request
axios.post(token_url, payload)
    .then(response => {
        console.log(`New Access Token: ${response.data.access_token}`);
    })
    .catch(error => {
        console.error('Error refreshing token:', error.response.data);
    });

