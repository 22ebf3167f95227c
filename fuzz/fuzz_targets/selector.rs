//! Label selector text: parsing never panics, and a parsed selector's text form parses back
//! to the same selector, which matches exactly the same label sets.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use netflow_core::cluster::selector::LabelSelector;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(selector) = LabelSelector::parse(text) else {
        return;
    };
    let shown = selector.to_string();
    let again = LabelSelector::parse(&shown)
        .unwrap_or_else(|e| panic!("{text:?} shows as {shown:?}, which does not parse: {e}"));
    assert_eq!(selector, again, "{text:?} shows as {shown:?}");

    // Label sets built from the selector's own keys and values: matching must agree between
    // the two, and `unmet` must be empty exactly when the selector matches.
    let mut candidates = vec![BTreeMap::new()];
    let mut all = BTreeMap::new();
    for (k, v) in selector.match_labels.iter().flatten() {
        all.insert(k.clone(), v.clone());
    }
    for r in selector.match_expressions.iter().flatten() {
        let v = r.values.first().cloned().unwrap_or_default();
        let mut one = all.clone();
        one.insert(r.key.clone(), v.clone());
        candidates.push(one);
        all.entry(r.key.clone()).or_insert(v);
    }
    candidates.push(all);
    for labels in &candidates {
        let m = selector.matches(labels);
        assert_eq!(m, again.matches(labels));
        assert_eq!(
            m,
            selector.unmet(labels).is_empty(),
            "{shown:?} on {labels:?}"
        );
    }
});
