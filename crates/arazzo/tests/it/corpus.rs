use polysync_arazzo::{Mode, validate};

use crate::support::shared_corpus;

#[tokio::test]
async fn all_20_corpus_workflows_validate_in_compatible_mode() {
    let dir = shared_corpus().join("arazzo");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 20);
    let mut warned = 0;
    for f in files {
        let b = polysync_arazzo::load(f.to_str().unwrap()).await.unwrap();
        let d = validate(&b, Mode::Compatible);
        let errors: Vec<_> = d.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
        if !d.is_empty() {
            warned += 1;
        }
        // Strict mode finds the off-spec spots of the documents that have them.
        let strict_errors = validate(&b, Mode::Strict)
            .iter()
            .filter(|d| d.is_error())
            .count();
        assert_eq!(strict_errors, d.len());
    }
    assert!(warned >= 12);
}

#[test]
fn seed_is_byte_identical_to_the_corpus_copy() {
    let corpus = std::fs::read_to_string(
        shared_corpus().join("arazzo/azure-databricks-create-job-and-run-workflow.yml"),
    )
    .unwrap();
    let seed_page = std::fs::read_to_string(
        shared_corpus().join("../../../seeds/azure-databricks-arazzo-create-job-and-run.txt"),
    )
    .unwrap();
    assert!(seed_page.contains(corpus.trim_end()));
}
