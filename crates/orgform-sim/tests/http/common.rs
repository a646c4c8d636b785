//! The harness: a real emulator on 127.0.0.1:0, spoken to over HTTP.

use std::time::Duration;

use orgform_sim::{Fixture, SimConfig, SimHandle};
use serde_json::{Value, json};

/// The token every test emulator accepts.
pub const TOKEN: &str = "sim-test-token-7c41e0";

/// A running emulator and an HTTP client for it.
pub struct Sim {
    pub handle: SimHandle,
    pub client: reqwest::Client,
}

/// An HTTP client with short timeouts (plain HTTP; rustls needs a provider
/// only because reqwest is built with `rustls-no-provider`).
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

impl Sim {
    /// An emulator with an empty account.
    pub async fn start() -> Sim {
        Sim::with(SimConfig::new(TOKEN)).await
    }

    /// An emulator with a fixture.
    pub async fn with_fixture(fixture: Fixture) -> Sim {
        Sim::with(SimConfig {
            fixture: Some(fixture),
            ..SimConfig::new(TOKEN)
        })
        .await
    }

    /// An emulator with any config.
    pub async fn with(config: SimConfig) -> Sim {
        let handle = orgform_sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("start the emulator");
        Sim {
            handle,
            client: client(),
        }
    }

    /// POSTs a raw body with an optional token; the status and JSON answer.
    pub async fn post_raw(&self, token: Option<&str>, body: &str) -> (u16, Value) {
        let mut req = self.client.post(self.handle.url()).body(body.to_owned());
        if let Some(t) = token {
            req = req.header("Authorization", t);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (status, value)
    }

    /// POSTs a request body with the token.
    pub async fn post(&self, body: &Value) -> (u16, Value) {
        self.post_raw(Some(TOKEN), &body.to_string()).await
    }

    /// Sends `data` for real (`validateOnly: false`) and expects `200`.
    pub async fn apply(&self, data: Value) -> Value {
        let (status, answer) = self.post(&real(data)).await;
        assert_eq!(status, 200, "{answer:#}");
        answer
    }

    /// Sends `data` for real and expects `400`; the error list.
    pub async fn reject(&self, data: Value) -> Vec<Value> {
        self.reject_body(&real(data)).await
    }

    /// Sends a whole body and expects `400`; the error list.
    pub async fn reject_body(&self, body: &Value) -> Vec<Value> {
        let (status, answer) = self.post(body).await;
        assert_eq!(status, 400, "{answer:#}");
        answer["errors"].as_array().expect("errors").clone()
    }

    /// The emulator-only read endpoint.
    pub async fn get(&self) -> Value {
        let resp = self
            .client
            .get(self.handle.url())
            .header("Authorization", TOKEN)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200);
        json_body(resp).await
    }

    /// One user from the read endpoint (panics when absent).
    pub async fn user(&self, id: &str) -> Value {
        self.find_user(id)
            .await
            .unwrap_or_else(|| panic!("no user {id}"))
    }

    /// One user from the read endpoint.
    pub async fn find_user(&self, id: &str) -> Option<Value> {
        let data = self.get().await;
        data["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["externalId"] == id)
            .cloned()
    }

    /// One group from the read endpoint (panics when absent).
    pub async fn group(&self, id: &str) -> Value {
        let data = self.get().await;
        data["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["externalId"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no group {id}"))
    }

    /// The externalIds of the managed users, sorted.
    pub async fn managed_user_ids(&self) -> Vec<String> {
        ids(&self.get().await["users"], true)
    }

    /// The externalIds of the managed groups, sorted.
    pub async fn managed_group_ids(&self) -> Vec<String> {
        ids(&self.get().await["groups"], true)
    }

    /// `POST /_sim/faults`.
    pub async fn set_faults(&self, body: Value) -> Value {
        let resp = self
            .client
            .post(format!("{}/_sim/faults", self.handle.base_url()))
            .header("Authorization", TOKEN)
            .body(body.to_string())
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200);
        json_body(resp).await
    }
}

/// `externalId`s of the records with the given `managed` flag.
pub fn ids(records: &Value, managed: bool) -> Vec<String> {
    records
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["managed"] == managed)
        .filter_map(|r| r["externalId"].as_str().map(str::to_owned))
        .collect()
}

/// Reads a JSON body.
pub async fn json_body(resp: reqwest::Response) -> Value {
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A request body that commits `data`.
pub fn real(data: Value) -> Value {
    json!({"settings": {"validateOnly": false}, "data": data})
}

/// A user with the required fields; email `<id>@example.com` lower-cased.
pub fn user(id: &str, first: &str) -> Value {
    json!({
        "externalId": id,
        "firstName": first,
        "lastName": "Example",
        "email": format!("{}@example.com", id.to_lowercase()),
    })
}

/// A group with the required fields.
pub fn group(id: &str, name: &str) -> Value {
    json!({"externalId": id, "name": name})
}

/// Merges `extra`'s keys into a JSON object.
pub fn with(mut base: Value, extra: Value) -> Value {
    let (Value::Object(b), Value::Object(e)) = (&mut base, extra) else {
        panic!("objects expected");
    };
    b.extend(e);
    base
}

/// `{"created": c, "updated": u, "deleted": d, "unchanged": n}`.
pub fn counts(c: u64, u: u64, d: u64, n: u64) -> Value {
    json!({"created": c, "updated": u, "deleted": d, "unchanged": n})
}

/// The codes of an error list, in order.
pub fn codes(errors: &[Value]) -> Vec<&str> {
    errors.iter().map(|e| e["code"].as_str().unwrap()).collect()
}
