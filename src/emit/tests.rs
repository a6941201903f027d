//! The unit tests of `emit`: a temporary `out/`, every kind of change, and what compile does.

use std::os::unix::fs::PermissionsExt;

use sha2::{Digest, Sha256};

use super::ownership::{Ownership, key};
use super::records::parse_record;
use super::*;
use crate::values::hex;

type Files = Vec<(Utf8PathBuf, PlannedFile)>;
type Reports = Vec<(String, &'static str)>;

fn files(list: &[(&str, &str, bool)]) -> Files {
    list.iter()
        .map(|(p, text, executable)| {
            (Utf8PathBuf::from(p), PlannedFile { bytes: text.as_bytes().to_vec(), executable: *executable })
        })
        .collect()
}

#[test]
fn every_manifest_record_is_found_and_no_other() {
    for count in [0, 1, 2, 9, 10, 1000, 20_000] {
        let mut owned = Ownership::default();
        let paths: Vec<String> = (0..count).map(|i| format!("img{i}/Dockerfile")).collect();
        owned.manifest = paths.iter().map(|p| (key(Utf8Path::new(p)), [0; 16])).collect();
        owned.seal_manifest().unwrap();
        for path in &paths {
            let at = owned.find(&key(Utf8Path::new(path))).expect("a record is found");
            assert_eq!(owned.manifest[at].0, key(Utf8Path::new(path)));
        }
        for absent in ["img/README.md", "x", ""] {
            assert_eq!(owned.find(&key(Utf8Path::new(absent))), None);
        }
        // The smallest and largest keys possible bound the range without being in it.
        assert_eq!(owned.find(&[0; 16]), None);
        assert_eq!(owned.find(&[0xff; 16]), None);
    }
}

/// Runs `sync` with one step per file; the reports, as (path, word).
fn run(files: &Files, out: &Utf8Path, mode: Mode) -> Result<(Summary, Reports), Error> {
    let mut reports = Vec::new();
    let summary = sync(
        out,
        mode,
        files,
        |(path, _)| vec![path.clone()],
        |(path, file), (): &mut ()| Ok(vec![(path.clone(), Content::File(file.clone()))]),
        &mut |r| reports.push((r.path.to_string(), r.state.word())),
    )?;
    reports.sort();
    Ok((summary, reports))
}

const WRITE: Mode = Mode::Write { force: false };

fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = Utf8PathBuf::from_path_buf(dir.path().join("out")).unwrap();
    (dir, out)
}

#[test]
fn streamed_files_are_compared_hashed_and_written_as_rendered_files_are() {
    let (_dir, out) = temp();
    let sync_streamed = |text: &str, mode: Mode| {
        let mut reports = Vec::new();
        let steps = [Utf8PathBuf::from("README.md")];
        let summary = sync(
            &out,
            mode,
            &steps,
            |path| vec![path.clone()],
            |path, (): &mut ()| {
                let render =
                    move |w: &mut dyn Write| w.write_all(text.as_bytes()).map_err(|e| Error::write("README.md", e));
                Ok(vec![(path.clone(), Content::Streamed { executable: false, render: Box::new(render) })])
            },
            &mut |r| reports.push((r.path.to_string(), r.state.word(), r.diff)),
        )
        .unwrap();
        (summary, reports)
    };
    let (_, reports) = sync_streamed("one\ntwo\n", WRITE);
    assert_eq!(reports[0].1, "missing");
    assert_eq!(std::fs::read_to_string(out.join("README.md")).unwrap(), "one\ntwo\n");
    let (summary, reports) = sync_streamed("one\ntwo\n", Mode::Check);
    assert!(summary.is_clean() && reports.is_empty(), "{reports:?}");
    // The manifest's hash is the streamed text's, as for a rendered file.
    let (summary, _) = run(&files(&[("README.md", "one\ntwo\n", false)]), &out, Mode::Check).unwrap();
    assert!(summary.is_clean(), "{summary:?}");

    let (_, reports) = sync_streamed("one\nthree\n", Mode::Check);
    let (path, word, diff) = &reports[0];
    assert_eq!((path.as_str(), *word), ("README.md", "stale"));
    assert!(diff.as_deref().is_some_and(|d| d.contains("-two") && d.contains("+three")), "{diff:?}");
    std::fs::write(out.join("README.md"), "by hand\n").unwrap();
    let (_, reports) = sync_streamed("one\ntwo\n", Mode::Check);
    let (_, word, diff) = &reports[0];
    assert_eq!(*word, "edited");
    assert!(diff.as_deref().is_some_and(|d| d.contains("\n+by hand\n") && d.contains("\n-one\n")), "{diff:?}");
    sync_streamed("one\nthree\n", WRITE);
    assert_eq!(std::fs::read_to_string(out.join("README.md")).unwrap(), "one\nthree\n");
    assert!(sync_streamed("one\nthree\n", Mode::Check).0.is_clean());
}

#[test]
fn files_larger_than_the_read_limit_are_compared_a_block_at_a_time() {
    // The catalog files of 50,000 images pass 16 MiB; they are up to date when they match.
    let (_dir, out) = temp();
    let big = "x".repeat(usize::try_from(FILE_LIMIT).unwrap() + 100);
    let mut changed = big.clone();
    changed.replace_range(big.len() - 2.., "y\n");
    let planned =
        vec![(Utf8PathBuf::from("docker-bake.hcl"), PlannedFile { bytes: big.into_bytes(), executable: false })];
    run(&planned, &out, WRITE).unwrap();
    let (summary, _) = run(&planned, &out, Mode::Check).unwrap();
    assert!(summary.is_clean() && summary.unchanged == 1, "{summary:?}");
    let changed =
        vec![(Utf8PathBuf::from("docker-bake.hcl"), PlannedFile { bytes: changed.into_bytes(), executable: false })];
    let (summary, reports) = run(&changed, &out, Mode::Check).unwrap();
    assert_eq!(reports, [("docker-bake.hcl".to_owned(), "stale")], "{summary:?}");
}

#[test]
fn check_tells_every_kind_of_change_and_compile_repairs_them() {
    let (_dir, out) = temp();
    let first = files(&[
        ("a/run.sh", "echo\n", true),
        ("a/same-size.txt", "one\n", false),
        ("a/other-size.txt", "one\n", false),
        ("a/edited-same.txt", "one\n", false),
        ("a/edited-other.txt", "one\n", false),
        ("b/c/deep.txt", "deep\n", false),
        ("gone.txt", "old\n", false),
        ("top.txt", "top\n", false),
    ]);
    let (summary, reports) = run(&first, &out, Mode::Check).unwrap();
    assert_eq!((summary.changed, reports.len()), (8, 8));
    assert!(reports.iter().all(|(_, w)| *w == "missing"));
    run(&first, &out, WRITE).unwrap();
    let (summary, _) = run(&first, &out, Mode::Check).unwrap();
    assert!(summary.is_clean() && summary.unchanged == 8, "{summary:?}");
    assert!(!out.join(WORK_DIR).exists());

    std::fs::set_permissions(out.join("a/run.sh"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(out.join("a/edited-same.txt"), "two\n").unwrap();
    std::fs::write(out.join("a/edited-other.txt"), "longer\n").unwrap();
    std::fs::remove_dir_all(out.join("b")).unwrap();
    let second = files(&[
        ("a/run.sh", "echo\n", true),
        ("a/same-size.txt", "two\n", false),
        ("a/other-size.txt", "longer\n", false),
        ("a/edited-same.txt", "one\n", false),
        ("a/edited-other.txt", "one\n", false),
        ("b/c/deep.txt", "deep\n", false),
        ("top.txt", "top\n", false),
    ]);
    let expected = [
        ("a/edited-other.txt", "edited"),
        ("a/edited-same.txt", "edited"),
        ("a/other-size.txt", "stale"),
        ("a/run.sh", "mode"),
        ("a/same-size.txt", "stale"),
        ("b/c/deep.txt", "missing"),
        ("gone.txt", "orphaned"),
    ];
    let (summary, reports) = run(&second, &out, Mode::Check).unwrap();
    assert_eq!(reports, expected.map(|(p, w)| (p.to_owned(), w)));
    assert_eq!(summary.unchanged, 1);
    let (summary, _) = run(&second, &out, WRITE).unwrap();
    assert_eq!((summary.written, summary.orphaned), (6, 1));
    assert!(run(&second, &out, Mode::Check).unwrap().0.is_clean());
    assert_eq!(std::fs::metadata(out.join("a/run.sh")).unwrap().permissions().mode() & 0o777, 0o755);
}

#[test]
fn a_folder_emptied_by_an_orphan_is_created_again() {
    let (_dir, out) = temp();
    run(&files(&[("x/a.txt", "a\n", false)]), &out, WRITE).unwrap();
    // `x/a.txt` goes first, and `x/` with it; then `x/b.txt` and `x/c/d.txt` need it again.
    let second = files(&[("x/b.txt", "b\n", false), ("x/c/d.txt", "d\n", false)]);
    run(&second, &out, WRITE).unwrap();
    assert!(!out.join("x/a.txt").exists());
    assert_eq!(std::fs::read_to_string(out.join("x/b.txt")).unwrap(), "b\n");
    assert_eq!(std::fs::read_to_string(out.join("x/c/d.txt")).unwrap(), "d\n");
    assert!(run(&second, &out, Mode::Check).unwrap().0.is_clean());
}

#[test]
fn symlinks_are_refused_as_files_and_as_folders() {
    let (dir, out) = temp();
    let planned = files(&[("a/b/file.txt", "x\n", false), ("z.txt", "z\n", false)]);
    run(&planned, &out, WRITE).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("file.txt"), "x\n").unwrap();

    std::fs::remove_file(out.join("z.txt")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("file.txt"), out.join("z.txt")).unwrap();
    let error = run(&planned, &out, Mode::Check).unwrap_err().to_string();
    assert!(error.contains("z.txt` is a symlink"), "{error}");

    std::fs::remove_file(out.join("z.txt")).unwrap();
    std::fs::remove_dir_all(out.join("a/b")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("a/b")).unwrap();
    let error = run(&planned, &out, Mode::Check).unwrap_err().to_string();
    assert!(error.contains("a/b` is a symlink"), "{error}");
}

#[test]
fn manifest_lines_must_be_a_hash_and_a_plain_relative_path() {
    let hash = "ab".repeat(32);
    assert!(parse_record(format!("{hash}  a/b.txt").as_bytes()).is_some());
    for bad in [
        format!("{hash}  /etc/passwd"),
        format!("{hash}  a/../../b"),
        format!("{hash}  ./a"),
        format!("{hash}  "),
        format!("{}  a", "AB".repeat(32)),
        format!("{}  a", "ab".repeat(31)),
        format!("{hash} a"),
    ] {
        assert!(parse_record(bad.as_bytes()).is_none(), "{bad}");
    }
}

#[test]
fn an_unusable_manifest_owns_nothing() {
    let (_dir, out) = temp();
    let planned = files(&[("a.txt", "new\n", false)]);
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("a.txt"), "mine\n").unwrap();
    let mine = hex(&Sha256::digest(b"mine\n"));
    let twice = format!("{mine}  a.txt\n{mine}  a.txt\n");
    for manifest in ["", "garbage\n", &format!("{}  a.txt", "0".repeat(64)), &twice] {
        std::fs::write(out.join(MANIFEST), manifest).unwrap();
        let error = run(&planned, &out, WRITE).unwrap_err().to_string();
        assert!(error.contains("--force"), "{manifest:?}: {error}");
        assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "mine\n");
    }
}

/// `--check` shows a hand edit as the edit: the line added by hand is `+`, the line it replaced
/// `-`; a stale file shows what compile will change.
#[test]
fn the_diff_of_a_hand_edit_shows_the_edit() {
    let (_dir, out) = temp();
    let planned = files(&[("a/README.md", "one\ntwo\n", false)]);
    run(&planned, &out, WRITE).unwrap();
    std::fs::write(out.join("a/README.md"), "one\nadded by hand\n").unwrap();
    let mut diffs = Vec::new();
    sync(
        &out,
        Mode::Check,
        &planned,
        |(path, _)| vec![path.clone()],
        |(path, file), (): &mut ()| Ok(vec![(path.clone(), Content::File(file.clone()))]),
        &mut |r| diffs.push((r.state.word(), r.diff.unwrap_or_default())),
    )
    .unwrap();
    let [(state, diff)] = diffs.as_slice() else { panic!("{diffs:?}") };
    assert_eq!(*state, "edited");
    assert!(diff.contains("\n+added by hand\n") && diff.contains("\n-two\n"), "{diff}");
    assert!(diff.contains("(as dlspec writes it)") && diff.contains("(as edited by hand)"), "{diff}");

    // Stale (dlspec's own text, the spec changed since): from the file to what compile writes.
    let changed = files(&[("a/README.md", "one\nthree\n", false)]);
    run(&planned, &out, WRITE).unwrap();
    let mut diffs = Vec::new();
    sync(
        &out,
        Mode::Check,
        &changed,
        |(path, _)| vec![path.clone()],
        |(path, file), (): &mut ()| Ok(vec![(path.clone(), Content::File(file.clone()))]),
        &mut |r| diffs.push((r.state.word(), r.diff.unwrap_or_default())),
    )
    .unwrap();
    let [(state, diff)] = diffs.as_slice() else { panic!("{diffs:?}") };
    assert_eq!(*state, "stale");
    assert!(diff.contains("\n-two\n") && diff.contains("\n+three\n"), "{diff}");
}
