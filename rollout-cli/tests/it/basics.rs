//! Help, version, completions, `rollout tag`, and usage errors.

use crate::support::{Rollout, snapshot};

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed");

#[tokio::test]
async fn help_lists_every_subcommand_and_the_exit_codes() {
    let r = Rollout::new().run(&["--help"]).await;
    r.code(0);
    snapshot("help", &r.stdout);
}

#[tokio::test]
async fn the_cluster_subcommands_explain_their_flags() {
    for command in ["deploy", "status", "history", "rollback"] {
        let r = Rollout::new().run(&[command, "--help"]).await;
        r.code(0);
        snapshot(&format!("help-{command}"), &r.stdout);
    }
}

#[tokio::test]
async fn tag_derives_the_seed_release_tag_from_the_pom() {
    let r = Rollout::new().run(&["tag", SEED, "--template", "latest-release-{version}"]).await;
    r.code(0);
    assert_eq!(r.stdout, "latest-release-1.0.0\n");
    assert!(r.stderr.contains("from pom version 1.0.0"), "{}", r.stderr);
}

#[tokio::test]
async fn tag_prints_one_json_document_with_the_core_fields() {
    let r = Rollout::new().run(&["tag", SEED, "-t", "latest-release-{version}", "-o", "json"]).await;
    r.code(0);
    let v = r.json();
    assert_eq!(v["tag"], "latest-release-1.0.0");
    assert_eq!(v["version"]["source"], "pom");
    assert_eq!(v["version"]["version"], "1.0.0");
    assert_eq!(v["template"], "latest-release-{version}");
    assert_eq!(v["sanitised"], false);
    assert!(v["warnings"].is_array());
}

#[tokio::test]
async fn maven_properties_can_be_set_on_the_command_line() {
    let r = Rollout::new();
    let dir = r.path("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pom.xml"),
        "<project><modelVersion>4.0.0</modelVersion><groupId>g</groupId><artifactId>a</artifactId>\
         <version>${revision}</version><properties><revision>1.0.0</revision></properties></project>",
    )
    .unwrap();
    let out = r.run(&["tag", dir.to_str().unwrap(), "--set", "revision=2.3.4"]).await;
    out.code(0);
    assert_eq!(out.stdout, "2.3.4\n");
}

#[tokio::test]
async fn usage_errors_of_the_cluster_subcommands_exit_2_before_connecting_anywhere() {
    let r = Rollout::new();
    let cases: [(&[&str], &str); 17] = [
        (
            &["deploy", "web", "--image", "a/b:1", "--timeout", "10"],
            "'--timeout <DURATION>': invalid duration \"10\": a number has no unit",
        ),
        (&["status", "web", "--timeout", "5d"], "'--timeout <DURATION>': invalid duration \"5d\": unknown unit"),
        (&["rollback", "web", "--timeout", "0"], "'--timeout <DURATION>': invalid duration \"0\""),
        (&["deploy", "web", "--image", ":bad tag"], "'--image <IMAGE>': invalid image tag \"bad tag\""),
        (&["deploy", "web", "--image", "Repo/App:1"], "'--image <IMAGE>': invalid image reference \"Repo/App:1\""),
        (&["rollback", "web", "--to-tag", "a/b"], "'--to-tag <TAG>': invalid image tag \"a/b\""),
        (
            &["rollback", "web", "--to-revision", "1", "--to-tag", "v1"],
            "'--to-revision <N>' cannot be used with '--to-tag <TAG>'",
        ),
        (
            &["deploy", "web", "--image", "a/b:1", "--no-wait", "--rollback-on-failure"],
            "'--no-wait' cannot be used with '--rollback-on-failure'",
        ),
        (&["deploy", "web", "-f", "x.yaml"], "cannot be used with"),
        (&["deploy", "web"], "--image <IMAGE>"),
        (&["deploy", "--container", "app", "-f", "x.yaml"], "--image <IMAGE>"),
        (
            &["deploy", "web", "--image", "a/b:1", "--skip-preflight", "nope"],
            "[possible values: workload, container, image-exists, readiness-probe, strategy, paused, floating-tag]",
        ),
        (&["status"], "<WORKLOAD>"),
        (&["status", "pod/web"], "invalid WORKLOAD \"pod/web\": unknown kind \"pod\""),
        (&["history", "Web"], "invalid DEPLOYMENT \"Web\": not a valid name"),
        (&["status", "web", "-n", "a", "-n", "b"], "give one namespace"),
        (&["previous", "--strategy", "deployed"], "--deployment"),
    ];
    for (args, needle) in cases {
        let out = r.run(args).await;
        out.code(2);
        assert!(out.stderr.contains(needle), "rollout {}: {:?} not in\n{}", args.join(" "), needle, out.stderr);
    }
}

#[tokio::test]
async fn usage_errors_exit_2_and_name_the_argument() {
    let r = Rollout::new();
    let cases: [(&[&str], &str); 6] = [
        (&["tag", SEED, "--template", "x-{nope}"], "unknown placeholder {nope}"),
        (&["tag", SEED, "--source", "gradle"], "gradle"),
        (&["tag", SEED, "--set", "novalue"], "\"novalue\" is not KEY=VALUE"),
        (&["previous", "--repository", "Bad_Name"], "invalid repository name \"Bad_Name\""),
        (&["previous", "--repository", "app", "--prefix", "a", "--pattern", "b"], "cannot be used with"),
        (&["lifecycle", "diff", "--repository", "app", "--keep-tagged", "5"], "--prefix"),
    ];
    for (args, needle) in cases {
        let out = r.run(args).await;
        out.code(2);
        assert!(out.stderr.contains(needle), "rollout {}: {:?} not in\n{}", args.join(" "), needle, out.stderr);
    }
}

#[tokio::test]
async fn a_missing_version_file_is_invalid_input() {
    let r = Rollout::new();
    let empty = r.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = r.run(&["tag", empty.to_str().unwrap(), "--source", "cargo"]).await;
    out.code(2);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
}

#[tokio::test]
async fn completions_are_generated_for_bash() {
    let out = Rollout::new().run(&["completions", "bash"]).await;
    out.code(0);
    assert!(out.stdout.contains("_rollout()"), "{}", &out.stdout[..out.stdout.len().min(200)]);
}

#[tokio::test]
async fn the_demo_runs_the_seed_workflow_to_the_end() {
    let r = Rollout::new().run(&["demo"]).await;
    r.code(0);
    for needle in [
        "1. Tag the release from the Maven pom",
        "latest-release-1.0.0",
        "preflight image-exists: ms-account-management:latest-release-1.0.2 does not exist",
        "nothing was changed in the cluster",
        "ErrImagePull",
        "FAILED, ROLLED BACK: default/deployment/ms-account-management (CrashLoopBackOff)",
        "| FATAL: DATABASE_URL is not set",
        "rollout previous --strategy deployed:",
        "10. History",
        "Done in",
    ] {
        assert!(r.stdout.contains(needle), "{needle:?} missing from the demo's output:\n{}", r.stdout);
    }
    assert_eq!(r.stdout.matches("FAILED, ROLLED BACK").count(), 2, "both broken releases are rolled back");
    assert!(!r.stdout.contains("\x1b["), "no terminal escapes when stdout is not a terminal");
}
