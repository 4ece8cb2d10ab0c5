//! v1 reads: `/v1/company/employees` paging (first page for the total, the rest in parallel),
//! consistency checks against lying metadata and shifting records, re-read passes, and the
//! attributes endpoint.
//!
//! How a full read stays exact:
//! * Page 0 gives `total_elements`; the remaining pages (record `offset`s) are fetched with
//!   bounded concurrency, paced by the rate limiter. `total_pages` is never trusted.
//! * When the last page is full and the metadata is inconsistent (or there was no total), further
//!   pages are read one by one until a short page; a page that adds no new id stops the pass; a hard
//!   cap (derived from the largest observed total) prevents endless loops.
//! * A pass is *clean* when every page reported the same total, the unique ids match it, no id came
//!   twice and no page before the last was short. A clean pass is accepted as complete.
//! * Otherwise the whole list is read again (up to `max_read_passes`). A record inserted or removed
//!   while paging shifts offsets; the next pass sees a stable list and is clean. If the metadata
//!   itself is noisy (drifting totals) but the data is self-consistent, two passes returning the
//!   same id set are accepted as complete. If no pass qualifies the union of all passes is returned
//!   with `complete = false` and the reasons in `warnings`.

use crate::diagnostics::{AttributeInfo, SkippedRecord};
use crate::error::PersonioError;
use crate::http::Http;
use crate::limits::Bucket;
use crate::{ReadOptions, ReadProgress, convert, normalize_v1};
use futures::StreamExt;
use psync_model::{Employee, EmployeeId};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const EMPLOYEES: &str = "/v1/company/employees";

/// One fetched page, converted as it arrives: only canonical employees are kept, never the
/// (much larger) wire JSON of the whole list.
struct Page {
    offset: u64,
    records: Vec<Entry>,
    total: Option<u64>,
}

/// One record of a page: its raw id (for de-duplication) and the conversion result.
struct Entry {
    id: Option<String>,
    parsed: Result<Employee, SkippedRecord>,
}

/// One full pass over the list.
struct Pass {
    employees: BTreeMap<EmployeeId, Employee>,
    skipped: BTreeMap<String, SkippedRecord>,
    keys: BTreeSet<String>,
    clean: bool,
    data_clean: bool,
    problems: Vec<String>,
}

/// The result of all passes.
pub(crate) struct V1Read {
    pub(crate) employees: Vec<Employee>,
    pub(crate) skipped: Vec<SkippedRecord>,
    pub(crate) complete: bool,
    pub(crate) warnings: Vec<String>,
}

async fn fetch_page(http: &Http, offset: u64, limit: u32) -> Result<Page, PersonioError> {
    let query = [("limit", limit.to_string()), ("offset", offset.to_string())];
    let body = http.get(Bucket::V1Employees, EMPLOYEES, &query).await?;
    http.counters.add_page();
    let Some(records) = body.get("data").and_then(Value::as_array) else {
        return Err(PersonioError::InvalidResponse {
            account: http.account.clone(),
            url: http.url(EMPLOYEES),
            status: 200,
            problem: format!("a page without a `data` list ({})", convert::short(&body)),
        });
    };
    let total = body
        .pointer("/metadata/total_elements")
        .and_then(Value::as_u64);
    let records = records
        .iter()
        .map(|record| Entry {
            id: normalize_v1::raw_id(record),
            parsed: normalize_v1::employee(record),
        })
        .collect();
    Ok(Page {
        offset,
        records,
        total,
    })
}

/// Reads every employee, re-reading when a pass is not trustworthy.
pub(crate) async fn read_all(http: &Http, opts: &ReadOptions) -> Result<V1Read, PersonioError> {
    let mut warnings = Vec::new();
    let mut union_employees: BTreeMap<EmployeeId, Employee> = BTreeMap::new();
    let mut union_skipped: BTreeMap<String, SkippedRecord> = BTreeMap::new();
    let mut previous_keys: Option<BTreeSet<String>> = None;
    let passes = http.limits.max_read_passes;
    for number in 1..=passes {
        let pass = read_pass(http, opts).await?;
        let agrees = pass.data_clean && previous_keys.as_ref() == Some(&pass.keys);
        if pass.clean || agrees {
            if !pass.clean {
                warnings.push(format!(
                    "pass {number}: {}; accepted because it returned the same records as the \
                     pass before",
                    pass.problems.join("; ")
                ));
            }
            return Ok(V1Read {
                employees: pass.employees.into_values().collect(),
                skipped: pass.skipped.into_values().collect(),
                complete: true,
                warnings,
            });
        }
        let problems = pass.problems.join("; ");
        tracing::warn!(account = %http.account, pass = number, %problems, "Employee list looked inconsistent; reading it again.");
        warnings.push(format!("pass {number}: {problems}"));
        previous_keys = pass.data_clean.then_some(pass.keys);
        union_employees.extend(pass.employees);
        union_skipped.extend(pass.skipped);
    }
    for id in union_employees.keys() {
        union_skipped.remove(id.as_str());
    }
    warnings.push(format!(
        "no consistent read after {passes} passes: the employee list may be incomplete, so \
         nothing may be deprovisioned from this read"
    ));
    Ok(V1Read {
        employees: union_employees.into_values().collect(),
        skipped: union_skipped.into_values().collect(),
        complete: false,
        warnings,
    })
}

/// One pass: page 0, then the announced rest in parallel, then (if needed) onward one by one.
async fn read_pass(http: &Http, opts: &ReadOptions) -> Result<Pass, PersonioError> {
    let limit = http.limits.v1_page_size;
    let step = u64::from(limit);
    let first = fetch_page(http, 0, limit).await?;
    let announced = first.total;
    let planned_pages = announced.map_or(1, |t| t.div_ceil(step).max(1));
    let mut fetched = first.records.len();
    report(opts, fetched, announced);
    let mut pages: BTreeMap<u64, Page> = BTreeMap::new();
    pages.insert(0, first);
    let mut rest =
        futures::stream::iter((1..planned_pages).map(|i| fetch_page(http, i * step, limit)))
            .buffer_unordered(http.limits.v1_concurrency);
    while let Some(page) = rest.next().await {
        let page = page?;
        fetched += page.records.len();
        report(opts, fetched, announced);
        pages.insert(page.offset, page);
    }
    drop(rest);

    let totals = |pages: &BTreeMap<u64, Page>| -> BTreeSet<u64> {
        pages.values().filter_map(|p| p.total).collect()
    };
    // Continue past the plan while the last page is full and the metadata gives cause to doubt
    // that the list ends there.
    let mut hit_cap = false;
    let mut stalled = false;
    while let Some((&last_offset, last)) = pages.last_key_value() {
        let seen_totals = totals(&pages);
        let max_total = seen_totals.iter().copied().max();
        let covered = last_offset + last.records.len() as u64;
        let full = last.records.len() as u64 >= step;
        let doubt = seen_totals.len() != 1 || max_total.is_none_or(|t| covered < t);
        if !full || !doubt {
            break;
        }
        let cap = max_total.unwrap_or(0).max(covered).div_ceil(step) * 2 + 4;
        if pages.len() as u64 >= cap {
            hit_cap = true;
            break;
        }
        let known: BTreeSet<String> = pages
            .values()
            .flat_map(|p| p.records.iter())
            .filter_map(|e| e.id.clone())
            .collect();
        let page = fetch_page(http, covered, limit).await?;
        let new = page
            .records
            .iter()
            .filter_map(|e| e.id.as_ref())
            .any(|id| !known.contains(id));
        fetched += page.records.len();
        report(opts, fetched, max_total);
        let empty = page.records.is_empty();
        pages.insert(covered, page);
        if !new && !empty {
            stalled = true;
            break;
        }
    }

    // Convert and check.
    let mut pass = Pass {
        employees: BTreeMap::new(),
        skipped: BTreeMap::new(),
        keys: BTreeSet::new(),
        clean: false,
        data_clean: false,
        problems: Vec::new(),
    };
    let mut duplicates = 0usize;
    let mut short_before_end = Vec::new();
    let last_offset = pages.last_key_value().map_or(0, |(o, _)| *o);
    let seen_totals = totals(&pages);
    for page in pages.into_values() {
        if page.offset != last_offset && (page.records.len() as u64) < step {
            short_before_end.push(page.offset);
        }
        for (index, entry) in page.records.into_iter().enumerate() {
            let key = entry
                .id
                .unwrap_or_else(|| format!("#{}", page.offset + index as u64));
            if !pass.keys.insert(key.clone()) {
                duplicates += 1;
                continue;
            }
            match entry.parsed {
                Ok(e) => {
                    pass.employees.insert(e.id.clone(), e);
                }
                Err(skipped) => {
                    tracing::warn!(account = %http.account, id = ?skipped.id, reason = %skipped.reason, "Skipped a malformed employee record.");
                    pass.skipped.insert(key, skipped);
                }
            }
        }
    }
    let unique = pass.keys.len() as u64;
    if duplicates > 0 {
        pass.problems.push(format!(
            "{duplicates} record(s) came twice (records shifted between pages)"
        ));
    }
    if !short_before_end.is_empty() {
        pass.problems.push(format!(
            "short page(s) before the end at offset(s) {short_before_end:?}"
        ));
    }
    if hit_cap {
        pass.problems
            .push("stopped at the page cap; the list did not end".into());
    }
    if stalled {
        pass.problems
            .push("a page repeated records already read; the list did not end".into());
    }
    let data_clean = duplicates == 0 && short_before_end.is_empty() && !hit_cap && !stalled;
    if seen_totals.len() > 1 {
        pass.problems.push(format!(
            "total_elements changed between pages ({seen_totals:?})"
        ));
    }
    match seen_totals.iter().next() {
        Some(&total) if seen_totals.len() == 1 && total != unique => pass.problems.push(format!(
            "total_elements says {total}, but {unique} distinct records came"
        )),
        None => pass
            .problems
            .push("the pages carried no total_elements".into()),
        _ => {}
    }
    pass.data_clean = data_clean;
    pass.clean = pass.problems.is_empty();
    Ok(pass)
}

fn report(opts: &ReadOptions, fetched: usize, total: Option<u64>) {
    if let Some(progress) = &opts.progress {
        progress(ReadProgress {
            fetched,
            total: total.and_then(|t| usize::try_from(t).ok()),
        });
    }
}

/// `GET /v1/company/employees/{id}`; `None` when Personio says 404.
pub(crate) async fn read_one(
    http: &Http,
    id: &EmployeeId,
) -> Result<Result<Option<Employee>, SkippedRecord>, PersonioError> {
    let path = format!("{EMPLOYEES}/{}", id.as_str());
    let body = match http.get(Bucket::V1Employees, &path, &[]).await {
        Ok(body) => body,
        Err(PersonioError::NotFound { .. }) => return Ok(Ok(None)),
        Err(e) => return Err(e),
    };
    let Some(record) = body.get("data") else {
        return Err(PersonioError::InvalidResponse {
            account: http.account.clone(),
            url: http.url(&path),
            status: 200,
            problem: "a response without `data`".into(),
        });
    };
    Ok(normalize_v1::employee(record).map(Some))
}

/// `GET /v1/company/employees/attributes`.
pub(crate) async fn attributes(http: &Http) -> Result<Vec<AttributeInfo>, PersonioError> {
    let path = format!("{EMPLOYEES}/attributes");
    let body = http.get(Bucket::V1Employees, &path, &[]).await?;
    parse_attributes(&body).ok_or_else(|| PersonioError::InvalidResponse {
        account: http.account.clone(),
        url: http.url(&path),
        status: 200,
        problem: format!(
            "an attribute list without `data` ({})",
            convert::short(&body)
        ),
    })
}

/// The `data` list of an attributes response.
pub(crate) fn parse_attributes(body: &Value) -> Option<Vec<AttributeInfo>> {
    let items = body.get("data")?.as_array()?;
    Some(
        items
            .iter()
            .filter_map(|item| {
                let key = item.get("key")?.as_str()?.to_string();
                let string = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_string);
                let type_name = string("type");
                Some(AttributeInfo {
                    key,
                    label: string("label"),
                    kind: type_name.as_deref().and_then(convert::attribute_type),
                    type_name,
                    universal_id: string("universal_id"),
                    options: item.get("options").map(convert::tags).unwrap_or_default(),
                })
            })
            .collect(),
    )
}

/// Converts the records of a list response (for spec checks).
#[cfg(test)]
pub(crate) fn convert_page(body: &Value) -> (Vec<Employee>, Vec<SkippedRecord>) {
    let mut employees = Vec::new();
    let mut skipped = Vec::new();
    for record in body
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match normalize_v1::employee(record) {
            Ok(e) => employees.push(e),
            Err(s) => skipped.push(s),
        }
    }
    (employees, skipped)
}
