use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn expression_parser_never_panics(s in "\\PC*") {
        let _ = polysync_arazzo::expr::parse::parse(&s);
        let _ = polysync_arazzo::expr::parse::classify(&s);
    }

    #[test]
    fn expression_parser_never_panics_on_near_misses(s in "\\$(url|method|statusCode|request\\.|response\\.|inputs\\.|steps\\.|workflows\\.|sourceDescriptions\\.|components\\.)[a-zA-Z0-9._#/~{}$ -]{0,30}") {
        let _ = polysync_arazzo::expr::parse::parse(&s);
        let _ = polysync_arazzo::expr::parse::template(&s);
    }

    #[test]
    fn condition_parser_never_panics(s in "\\PC*") {
        let _ = polysync_arazzo::criteria::parse_condition(&s, false);
        let _ = polysync_arazzo::criteria::parse_condition(&s, true);
    }

    #[test]
    fn condition_parser_never_panics_on_condition_like_text(s in "[$@.()!&|=<>'\" a-zA-Z0-9\\[\\]{}#/?-]{0,60}") {
        let _ = polysync_arazzo::criteria::parse_condition(&s, false);
        let _ = polysync_arazzo::criteria::parse_condition(&s, true);
        let c = polysync_arazzo::document::Criterion { context: Some("$response.body".into()), condition: Some(s.clone()), kind: Some(serde_json::json!("jsonpath")) };
        let _ = polysync_arazzo::criteria::check(&c);
    }
}
