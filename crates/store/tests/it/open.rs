//! Opening a store: what `--database-url` accepts and refuses.

use polysync_store::{ErrorKind, Store};

#[tokio::test]
async fn an_unknown_url_scheme_is_refused_naming_the_accepted_ones() {
    for url in [
        "postgress://user:s3cret-pw@db.example/polysync",
        "mysql://user:s3cret-pw@db.example/polysync",
    ] {
        let err = Store::open(url).await.expect_err("unknown scheme");
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("unsupported database URL scheme"), "{msg}");
        assert!(
            msg.contains("postgres://") && msg.contains("sqlite:"),
            "{msg}"
        );
        assert!(!msg.contains("s3cret-pw"), "the password leaked: {msg}");
        // Nothing was created: before, the URL became a SQLite file path.
        let scheme = url.split("://").next().unwrap_or_default();
        assert!(!std::path::Path::new(&format!("{scheme}:")).exists());
    }
}
