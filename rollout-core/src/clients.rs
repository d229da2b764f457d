//! Building the Kubernetes and ECR clients from the environment or from explicit options, and keeping secrets
//! out of everything rollout prints.
//!
//! This module owns client construction: kube's configuration inference (an explicit kubeconfig, `KUBECONFIG`
//! or `~/.kube/config`, a context, the in-cluster service account, exec credential plugins such as
//! `aws eks get-token`) and the AWS SDK's default chains (region and credentials from the environment, profiles,
//! SSO, web identity, container and instance roles), with one TLS stack: rustls with the ring provider. It also
//! owns [`redact`], which strips anything that looks like a credential from text before it reaches an error.
//!
//! It deliberately does not decide anything about workloads or images, and it does not cache clients: callers
//! build one per run and share it.

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_ecr::config::retry::RetryConfig;
use aws_smithy_http_client::tls;
use regex::Regex;

use crate::error::{Cause, Error, Result};

// ---------------------------------------------------------------------------------------------------------
// Kubernetes

/// Where the Kubernetes configuration comes from; every field is optional, as the `--kubeconfig`,
/// `--context` and `-n/--namespace` flags of kubectl are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeOptions {
    /// A kubeconfig file to read instead of `KUBECONFIG` or `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of its current context.
    pub context: Option<String>,
    /// The namespace to work in instead of the context's namespace (or `default`).
    pub namespace: Option<String>,
}

/// A Kubernetes client and the namespace to work in, as kubectl would choose them.
///
/// - With [`KubeOptions::kubeconfig`], that file is read and its current context (or
///   [`KubeOptions::context`]) is used.
/// - Otherwise, with a context, `KUBECONFIG` (several files joined by `:` are merged) or `~/.kube/config`
///   is read; a context never falls back to the in-cluster configuration.
/// - Otherwise the kubeconfig is tried first, then the in-cluster service account (`KUBERNETES_SERVICE_HOST`
///   and `/var/run/secrets/kubernetes.io/serviceaccount`), as kube's `Config::infer` does.
///
/// Exec credential plugins (`users[].user.exec`, as EKS's `aws eks get-token`) are run by kube while the client
/// is built, and again when their token expires; a failing plugin is reported here, its output redacted. The
/// namespace is [`KubeOptions::namespace`], else the context's namespace, else
/// `default`.
///
/// ```no_run
/// # async fn demo() -> rollout_core::Result<()> {
/// use rollout_core::clients::{KubeOptions, kube_client};
/// let (client, namespace) = kube_client(&KubeOptions { context: Some("prod".into()), ..Default::default() }).await?;
/// # let _ = (client, namespace);
/// # Ok(())
/// # }
/// ```
pub async fn kube_client(options: &KubeOptions) -> Result<(kube::Client, String)> {
    if let Some(namespace) = &options.namespace {
        check_namespace(namespace)?;
    }
    let fail = |source: Cause| Error::Kubeconfig {
        kubeconfig: options.kubeconfig.clone(),
        context: options.context.clone(),
        source,
    };
    let kube_options = kube::config::KubeConfigOptions { context: options.context.clone(), cluster: None, user: None };
    let config = match &options.kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).map_err(|e| fail(Cause::from_error(&e)))?;
            kube::Config::from_custom_kubeconfig(file, &kube_options).await.map_err(|e| fail(Cause::from_error(&e)))?
        }
        None if options.context.is_some() => {
            kube::Config::from_kubeconfig(&kube_options).await.map_err(|e| fail(Cause::from_error(&e)))?
        }
        None => kube::Config::infer().await.map_err(|e| fail(Cause::from_error(&e)))?,
    };
    let namespace = options.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config).map_err(|e| fail(Cause::from_error(&e)))?;
    Ok((client, namespace))
}

/// A namespace is a DNS-1123 label: at most 63 lowercase letters, digits and `-`, starting and ending with a
/// letter or digit (Kubernetes' `IsDNS1123Label`).
fn check_namespace(namespace: &str) -> Result<()> {
    let bytes = namespace.as_bytes();
    let valid = (1..=63).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            field: "namespace".into(),
            value: namespace.into(),
            reason: "allowed: 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
                .into(),
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// AWS

/// AWS settings that override the default chain, as the aws CLI's `--region`, `--profile` and
/// `--endpoint-url` do.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// The region; otherwise `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, or the instance
    /// metadata, in that order.
    pub region: Option<String>,
    /// The shared config/credentials profile; otherwise `AWS_PROFILE`, or `default`.
    pub profile: Option<String>,
    /// The ECR endpoint (an emulator, a VPC endpoint); otherwise `AWS_ENDPOINT_URL_ECR`, `AWS_ENDPOINT_URL`,
    /// the profile's `endpoint_url`, or the regional AWS endpoint.
    pub endpoint_url: Option<String>,
}

impl std::fmt::Debug for AwsOptions {
    /// The endpoint is shown redacted: a URL can carry a user and password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsOptions")
            .field("region", &self.region)
            .field("profile", &self.profile)
            .field("endpoint_url", &self.endpoint_url.as_deref().map(redact))
            .finish()
    }
}

/// The HTTPS client every AWS call of rollout uses: hyper with rustls and the ring crypto provider, trusting the
/// platform's root certificates.
pub fn https_client() -> aws_sdk_ecr::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

/// Load the AWS configuration from the default chains, with `options`' region and profile on top.
///
/// Nothing is resolved yet beyond the region: credentials are fetched by [`ecr_client_from_config`]. Retries
/// use the SDK's standard mode (3 attempts with exponential backoff and jitter; throttling errors such as
/// `ThrottlingException` and ECR's `LimitExceededException` are retried) unless `AWS_MAX_ATTEMPTS`,
/// `AWS_RETRY_MODE` or the profile's `max_attempts` / `retry_mode` say otherwise.
pub async fn load_aws_config(options: &AwsOptions) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// An ECR client from the default chains (see [`load_aws_config`]) and `options`.
///
/// Errors: [`Error::MissingRegion`] when no region is configured anywhere, [`Error::Credentials`] when no
/// credentials can be found (both name the variables and flags to set), [`Error::InvalidInput`] for an
/// endpoint that is not an http(s) URL.
///
/// ```no_run
/// # async fn demo() -> rollout_core::Result<()> {
/// use rollout_core::clients::{AwsOptions, ecr_client};
/// let ecr = ecr_client(&AwsOptions { region: Some("ap-southeast-2".into()), ..Default::default() }).await?;
/// # let _ = ecr;
/// # Ok(())
/// # }
/// ```
pub async fn ecr_client(options: &AwsOptions) -> Result<aws_sdk_ecr::Client> {
    // Check the endpoint before anything is loaded or resolved.
    if let Some(url) = &options.endpoint_url {
        check_endpoint(url)?;
    }
    let config = load_aws_config(options).await;
    ecr_client_from_config(&config, options).await
}

/// An ECR client from an already loaded `config`, with `options`' region and endpoint on top (its profile is
/// only read by [`load_aws_config`]).
///
/// The credentials are resolved once here, so that missing credentials are reported before anything else
/// happens; the client starts with them and asks the provider again when they expire. A `config` without an
/// HTTP client gets [`https_client`]; one without a retry configuration gets the standard mode.
pub async fn ecr_client_from_config(config: &SdkConfig, options: &AwsOptions) -> Result<aws_sdk_ecr::Client> {
    let region = options.region.clone().map(Region::new).or_else(|| config.region().cloned());
    if region.is_none() {
        return Err(Error::MissingRegion { profile: options.profile.clone() });
    }
    let mut builder = aws_sdk_ecr::config::Builder::from(config);
    builder.set_region(region);
    if let Some(url) = &options.endpoint_url {
        check_endpoint(url)?;
        builder.set_endpoint_url(Some(url.clone()));
    }
    if config.http_client().is_none() {
        builder.set_http_client(Some(https_client()));
    }
    if config.retry_config().is_none() {
        builder.set_retry_config(Some(RetryConfig::standard()));
    }
    let no_credentials = |source: Cause| Error::Credentials { profile: options.profile.clone(), source };
    let provider = config
        .credentials_provider()
        .ok_or_else(|| no_credentials(Cause::new("no credentials provider is configured")))?;
    let first = provider.provide_credentials().await.map_err(|e| no_credentials(Cause::from_error(&e)))?;
    builder.set_credentials_provider(Some(SharedCredentialsProvider::new(PrimedCredentials {
        first: Mutex::new(Some(first)),
        inner: provider,
    })));
    Ok(aws_sdk_ecr::Client::from_conf(builder.build()))
}

/// An ECR client with fixed credentials, ignoring the environment and the profiles: for emulators
/// (the sandbox registry, moto) and tests. `options.region` is required.
pub async fn ecr_client_with_static_credentials(
    options: &AwsOptions,
    access_key_id: &str,
    secret_access_key: &str,
) -> Result<aws_sdk_ecr::Client> {
    let credentials = aws_credential_types::Credentials::new(access_key_id, secret_access_key, None, None, "rollout");
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    ecr_client_from_config(&config, options).await
}

fn check_endpoint(url: &str) -> Result<()> {
    let ok = url.parse::<http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.authority().is_some_and(|a| !a.host().is_empty())
    });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            field: "endpoint_url".into(),
            value: redact(url),
            reason: "expected an http:// or https:// URL with a host, such as https://api.ecr.eu-west-1.amazonaws.com \
                     or http://127.0.0.1:5000"
                .into(),
        })
    }
}

/// Credentials resolved once up front, handed out first, then the underlying provider as usual.
///
/// The SDK's identity cache sits in front of this provider and asks again only when credentials near their
/// expiry; serving the up-front credentials once avoids a second round trip to SSO, STS or the instance
/// metadata service for the same credentials.
struct PrimedCredentials {
    first: Mutex<Option<Credentials>>,
    inner: SharedCredentialsProvider,
}

/// Credentials that expire within this margin are not served from the up-front resolution.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5 * 60);

impl ProvideCredentials for PrimedCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let first = self.first.lock().ok().and_then(|mut first| first.take());
        match first {
            Some(credentials)
                if credentials.expiry().is_none_or(|expiry| expiry > SystemTime::now() + EXPIRY_MARGIN) =>
            {
                future::ProvideCredentials::ready(Ok(credentials))
            }
            _ => self.inner.provide_credentials(),
        }
    }
}

impl std::fmt::Debug for PrimedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrimedCredentials { .. }")
    }
}

// ---------------------------------------------------------------------------------------------------------
// Redaction

struct Redaction {
    pattern: Regex,
    replacement: &'static str,
}

/// What is removed, in order. Each pattern keeps the name of what it removes so a message stays readable.
static REDACTIONS: LazyLock<Vec<Redaction>> = LazyLock::new(|| {
    let rule = |pattern: &str, replacement: &'static str| Redaction {
        pattern: Regex::new(pattern).unwrap_or_else(|e| unreachable!("redaction pattern {pattern:?}: {e}")),
        replacement,
    };
    vec![
        // PEM private keys, whole.
        rule(
            r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
            "<redacted private key>",
        ),
        // user:password@ in URLs.
        rule(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@", "${1}<redacted>@"),
        // Bearer tokens, then EKS tokens (aws eks get-token) wherever else they appear.
        rule(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+", "Bearer <redacted>"),
        rule(r"k8s-aws-v1\.[A-Za-z0-9_=-]+", "k8s-aws-v1.<redacted>"),
        // JSON web tokens (service account tokens, web identity tokens, OIDC id tokens).
        rule(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", "<redacted token>"),
        // key = value, key: value, "key": "value" for secret-bearing keys.
        rule(
            r#"(?i)\b(aws_secret_access_key|aws_session_token|aws_security_token|secret_?access_?key|session_?token|security_?token|x-amz-security-token|x-amz-signature|x-amz-credential|signature|credential|authorization|access_?token|refresh_?token|id[-_]?token|token|password|passwd|client[-_]key[-_]data|client[-_]key|secret)(["']?\s*[:=]\s*["']?)[^\s"',;&}]+"#,
            "${1}${2}<redacted>",
        ),
        // AWS access key ids.
        rule(r"\b(?:AKIA|ASIA|AROA|AIDA|ABIA|ACCA)[A-Z0-9]{16}\b", "<redacted access key id>"),
    ]
});

/// A 40-character run of base64 characters, the shape of an AWS secret access key.
static SECRET_KEY_SHAPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9/+]{40,}").unwrap_or_else(|e| unreachable!("secret key pattern: {e}")));

/// `text` with anything that looks like a credential replaced by a `<redacted …>` marker: private keys,
/// passwords in URLs, bearer and EKS tokens, JSON web tokens, values of secret-bearing keys (`token`,
/// `password`, `aws_secret_access_key`, `Authorization`, `Signature`, `client-key-data`, …), AWS access key ids,
/// and 40-character mixed-case base64 runs shaped like secret access keys (hex digests and git hashes are left
/// alone).
///
/// It is a last line of defence for text rollout does not control (messages of the SDKs, of credential
/// processes, of exec plugins): rollout itself never puts a secret into an error.
///
/// ```
/// use rollout_core::clients::redact;
/// assert_eq!(redact("token: abc.def"), "token: <redacted>");
/// assert_eq!(redact("repository \"shop\" not found"), "repository \"shop\" not found");
/// ```
pub fn redact(text: &str) -> String {
    let mut text = text.to_owned();
    for redaction in REDACTIONS.iter() {
        if let std::borrow::Cow::Owned(replaced) = redaction.pattern.replace_all(&text, redaction.replacement) {
            text = replaced;
        }
    }
    let replaced = SECRET_KEY_SHAPE.replace_all(&text, |caps: &regex::Captures<'_>| {
        let run = &caps[0];
        let upper = run.bytes().any(|b| b.is_ascii_uppercase());
        let lower = run.bytes().any(|b| b.is_ascii_lowercase());
        if upper && lower && run.len() <= 64 { "<redacted key>".to_owned() } else { run.to_owned() }
    });
    replaced.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const EKS_TOKEN: &str = "k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5";
    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXZhbHVl";

    #[test]
    fn redact_removes_every_kind_of_secret() {
        let cases = [
            (format!("aws_secret_access_key = {SECRET_KEY}"), "aws_secret_access_key = <redacted>"),
            (format!("{{\"SecretAccessKey\": \"{SECRET_KEY}\"}}"), "{\"SecretAccessKey\": \"<redacted>\"}"),
            ("{\"SessionToken\":\"FwoGZXIvYXdzEBYaDH\"}".to_owned(), "{\"SessionToken\":\"<redacted>\"}"),
            (format!("access key {ACCESS_KEY} is not valid"), "access key <redacted access key id> is not valid"),
            (format!("bad secret {SECRET_KEY} here"), "bad secret <redacted key> here"),
            (format!("Authorization: Bearer {EKS_TOKEN}"), "Authorization: <redacted> <redacted>"),
            (format!("exec plugin printed {EKS_TOKEN}"), "exec plugin printed k8s-aws-v1.<redacted>"),
            ("header bearer abc.def-ghi".to_owned(), "header Bearer <redacted>"),
            (format!("id token {JWT} expired"), "id token <redacted token> expired"),
            ("    token: 0123456789abcdef".to_owned(), "    token: <redacted>"),
            ("password=hunter2&user=me".to_owned(), "password=<redacted>&user=me"),
            ("https://alice:s3cret@ecr.example.com/v2".to_owned(), "https://<redacted>@ecr.example.com/v2"),
            (
                "Credential=AKIAIOSFODNN7EXAMPLE/20240501/eu-west-1/ecr/aws4_request, Signature=abcdef0123".to_owned(),
                "Credential=<redacted>, Signature=<redacted>",
            ),
            ("client-key-data: LS0tLS1CRUdJTg==".to_owned(), "client-key-data: <redacted>"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nafter".to_owned(),
                "<redacted private key>\nafter",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(&input), expected, "input {input:?}");
        }
    }

    #[test]
    fn redact_keeps_ordinary_messages_digests_and_hashes() {
        let keep = [
            "RepositoryNotFoundException: The repository with name 'shop' does not exist in the registry with id \
             '123456789012'",
            "image sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d not found",
            "git commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
            "dispatch failure: io error: connection refused (os error 111)",
            "Rate exceeded",
            "the token expired",
        ];
        for text in keep {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn aws_options_debug_redacts_the_endpoint_password() {
        let options = AwsOptions {
            region: Some("eu-west-1".into()),
            profile: Some("prod".into()),
            endpoint_url: Some("https://user:hunter2@ecr.internal:8443".into()),
        };
        let debug = format!("{options:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("eu-west-1") && debug.contains("prod") && debug.contains("ecr.internal:8443"));
    }

    #[test]
    fn primed_credentials_debug_shows_no_credentials() {
        let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, Some("session".into()), None, "test");
        let primed = PrimedCredentials {
            first: Mutex::new(Some(credentials.clone())),
            inner: SharedCredentialsProvider::new(credentials),
        };
        let debug = format!("{primed:?}");
        assert!(!debug.contains(ACCESS_KEY) && !debug.contains(SECRET_KEY) && !debug.contains("session"));
    }

    #[tokio::test]
    async fn primed_credentials_serve_the_first_resolution_then_the_provider() {
        let first = Credentials::new("AKIDFIRST", "first-secret", None, None, "first");
        let later = Credentials::new("AKIDLATER", "later-secret", None, None, "later");
        let primed = PrimedCredentials { first: Mutex::new(Some(first)), inner: SharedCredentialsProvider::new(later) };
        assert_eq!(primed.provide_credentials().await.unwrap().access_key_id(), "AKIDFIRST");
        assert_eq!(primed.provide_credentials().await.unwrap().access_key_id(), "AKIDLATER");
    }

    #[tokio::test]
    async fn primed_credentials_skip_a_first_resolution_about_to_expire() {
        let expiring = Credentials::new("AKIDOLD", "s", None, Some(SystemTime::now() + Duration::from_secs(10)), "x");
        let fresh = Credentials::new("AKIDNEW", "s", None, None, "y");
        let primed =
            PrimedCredentials { first: Mutex::new(Some(expiring)), inner: SharedCredentialsProvider::new(fresh) };
        assert_eq!(primed.provide_credentials().await.unwrap().access_key_id(), "AKIDNEW");
    }

    #[tokio::test]
    async fn a_missing_region_names_the_flag_and_both_variables() {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
            .build();
        let error = ecr_client_from_config(&config, &AwsOptions::default()).await.unwrap_err();
        assert!(matches!(error, Error::MissingRegion { profile: None }), "{error:?}");
        let message = error.to_string();
        for name in ["--region", "AWS_REGION", "AWS_DEFAULT_REGION"] {
            assert!(message.contains(name), "{message}");
        }
    }

    #[tokio::test]
    async fn missing_credentials_name_the_variables_to_set() {
        let config =
            SdkConfig::builder().behavior_version(BehaviorVersion::latest()).region(Region::new("eu-west-1")).build();
        let options = AwsOptions { profile: Some("ci".into()), ..Default::default() };
        let error = ecr_client_from_config(&config, &options).await.unwrap_err();
        assert!(matches!(&error, Error::Credentials { profile: Some(p), .. } if p == "ci"), "{error:?}");
        let message = error.to_string();
        for name in ["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "\"ci\""] {
            assert!(message.contains(name), "{message}");
        }
    }

    /// A provider whose failure message quotes a secret, as a broken credential process can.
    #[derive(Debug)]
    struct LeakyProvider;

    impl ProvideCredentials for LeakyProvider {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let output =
                format!("{{\"Version\": 1, \"AccessKeyId\": \"{ACCESS_KEY}\", \"SecretAccessKey\": \"{SECRET_KEY}\"");
            future::ProvideCredentials::ready(Err(
                aws_credential_types::provider::error::CredentialsError::provider_error(format!(
                    "credential process printed invalid JSON: {output}"
                )),
            ))
        }
    }

    #[tokio::test]
    async fn a_failing_credential_provider_leaks_no_secret_into_the_error() {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(LeakyProvider))
            .build();
        let error = ecr_client_from_config(&config, &AwsOptions::default()).await.unwrap_err();
        let mut all = format!("{error} {error:?}");
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            all.push_str(&format!(" {cause} {cause:?}"));
            source = cause.source();
        }
        assert!(all.contains("invalid JSON"), "{all}");
        assert!(!all.contains(SECRET_KEY) && !all.contains(ACCESS_KEY), "{all}");
    }

    #[tokio::test]
    async fn an_endpoint_that_is_not_an_http_url_is_rejected_with_the_field_name() {
        for bad in ["127.0.0.1:5000", "ftp://host", "http://", "not a url"] {
            let options = AwsOptions { endpoint_url: Some(bad.into()), ..Default::default() };
            let error = ecr_client(&options).await.unwrap_err();
            assert!(matches!(&error, Error::InvalidInput { field, .. } if field == "endpoint_url"), "{bad}: {error:?}");
        }
    }

    #[tokio::test]
    async fn an_explicit_region_and_endpoint_override_the_loaded_config() {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
            .build();
        let options = AwsOptions {
            region: Some("ap-southeast-2".into()),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            ..Default::default()
        };
        let client = ecr_client_from_config(&config, &options).await.unwrap();
        assert_eq!(client.config().region().map(|r| r.as_ref()), Some("ap-southeast-2"));
        let retry = client.config().retry_config().expect("a retry configuration");
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
        assert!(retry.max_attempts() >= 3);
    }

    /// The exec plugins of [`KUBECONFIG`] are `sh` scripts.
    #[cfg(unix)]
    #[tokio::test]
    async fn kube_client_reads_an_explicit_kubeconfig_and_its_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let options = KubeOptions { kubeconfig: Some(path.clone()), ..Default::default() };
        let (_client, namespace) = kube_client(&options).await.unwrap();
        assert_eq!(namespace, "shop");
        let options = KubeOptions { namespace: Some("other".into()), ..options };
        assert_eq!(kube_client(&options).await.unwrap().1, "other");
        let options = KubeOptions { kubeconfig: Some(path), context: Some("eks".into()), namespace: None };
        assert_eq!(kube_client(&options).await.unwrap().1, "default");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn kube_client_errors_name_the_file_and_context_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let options = KubeOptions { kubeconfig: Some(path.clone()), context: Some("nope".into()), namespace: None };
        let error = kube_client(&options).await.err().expect("an unknown context fails");
        let message = format!("{error} {:?}", std::error::Error::source(&error));
        assert!(message.contains("\"nope\"") && message.contains(&path.display().to_string()), "{message}");

        // An exec plugin that fails after printing a token.
        let options = KubeOptions { kubeconfig: Some(path.clone()), context: Some("broken".into()), namespace: None };
        let error = kube_client(&options).await.err().expect("a failing exec plugin fails");
        let message = format!("{error} {error:?}");
        assert!(message.contains("exit status: 3") && !message.contains("c2VjcmV0LXRva2Vu"), "{message}");

        // A broken file whose parser error could quote the token line.
        std::fs::write(&path, "users:\n- name: u\n  user:\n    token: sekrit-token-value\n  [broken").unwrap();
        let options = KubeOptions { kubeconfig: Some(path), ..Default::default() };
        let error = kube_client(&options).await.err().expect("a malformed file fails");
        let message = format!("{error} {error:?}");
        assert!(!message.contains("sekrit-token-value"), "{message}");
        assert!(matches!(error, Error::Kubeconfig { .. }));
    }

    #[tokio::test]
    async fn an_invalid_namespace_is_rejected_before_any_file_is_read() {
        let options = KubeOptions { namespace: Some("Shop_Prod".into()), ..Default::default() };
        let error = kube_client(&options).await.err().expect("invalid namespace");
        assert!(
            matches!(&error, Error::InvalidInput { field, value, .. } if field == "namespace" && value == "Shop_Prod")
        );
    }

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
current-context: shop
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
contexts:
- name: shop
  context: { cluster: local, user: static, namespace: shop }
- name: eks
  context: { cluster: local, user: eks }
- name: broken
  context: { cluster: local, user: broken }
users:
- name: static
  user:
    token: static-token-value
- name: eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: sh
      args:
      - -c
      - 'echo "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"status\":{\"token\":\"k8s-aws-v1.ZXhlYy10b2tlbg\"}}"'
      interactiveMode: Never
- name: broken
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: sh
      args: [-c, 'echo "half-written token k8s-aws-v1.c2VjcmV0LXRva2Vu" >&2; exit 3']
      interactiveMode: Never
"#;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn redact_never_panics_and_is_idempotent(text in ".{0,200}") {
            let once = redact(&text);
            prop_assert_eq!(redact(&once), once);
        }

        #[test]
        fn endpoint_and_namespace_checks_never_panic(text in ".{0,80}") {
            let _ = check_endpoint(&text);
            let _ = check_namespace(&text);
        }

        #[test]
        fn redact_removes_any_secret_key_value(key in "(token|password|aws_secret_access_key)", value in "[A-Za-z0-9]{8,40}") {
            let text = format!("before {key}={value} after");
            let redacted = redact(&text);
            prop_assert!(!redacted.contains(&value), "{}", redacted);
        }
    }
}
