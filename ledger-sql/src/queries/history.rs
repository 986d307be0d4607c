//! The history query: [`HistoryFilter::matches`] in SQL, one index range
//! driving whatever the filter, over sealed rows only (`sequence > 0`: an
//! unsealed booking's rows wait under negative placeholders,
//! ARCHITECTURE.md "Build order"), so a cursor never passes a row that is
//! sealed later below it.

use ledger_core::{AccountId, HistoryFilter};

use super::micros_ceil;
use crate::row::TRANSACTION_COLUMNS;
use crate::stmt::{Dialect, Stmt, Value, int};

/// History, newest first: [`HistoryFilter::matches`] in SQL. Whatever the
/// filter, one index range drives, newest first, and stops after `limit`
/// rows:
///
/// - with metadata pairs, the first pair's range of `transaction_metadata`
///   (its primary key is `(key, value, sequence)`); the other pairs and the
///   accounts are `EXISTS` probes of their primary keys;
/// - else with one account, its range of `account_transactions` (primary
///   key `(account_id, sequence)`: one row per account a transaction
///   touches, every leg's both sides);
/// - else with several accounts, one such branch per account, each with its
///   own `ORDER BY sequence DESC LIMIT n`, merged (PostgreSQL: Merge Append)
///   and deduplicated by `UNION`; each branch is a subquery because SQLite
///   allows `ORDER BY` and `LIMIT` only on a whole compound select;
/// - else `transactions_sequence_key`, backwards.
pub(crate) fn history(d: Dialect, filter: &HistoryFilter, before: Option<u64>, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, "");
    let columns = TRANSACTION_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    if let Some((key, value)) = filter.metadata.first() {
        // The first pair's index drives, newest first; the rest is filtered.
        s.push(&format!("SELECT {columns} FROM transaction_metadata m JOIN transactions t ON t.sequence = m.sequence"));
        s.push(" WHERE m.key = ").bind(Value::Text(key.clone()));
        s.push(" AND m.value = ").bind(Value::Text(value.clone()));
        sealed_before(&mut s, "m.sequence", before);
        if !filter.accounts.is_empty() {
            s.push(" AND EXISTS (SELECT 1 FROM account_transactions y WHERE y.account_id IN (");
            for (i, account) in filter.accounts.iter().enumerate() {
                s.push(if i > 0 { ", " } else { "" }).bind(Value::Uuid(*account.as_uuid()));
            }
            s.push(") AND y.sequence = t.sequence)");
        }
        history_conditions(&mut s, filter, 1);
        s.push(" ORDER BY m.sequence DESC").limit(limit);
    } else if filter.accounts.is_empty() {
        s.push(&format!("SELECT {columns} FROM transactions t WHERE TRUE"));
        sealed_before(&mut s, "t.sequence", before);
        history_conditions(&mut s, filter, 0);
        s.push(" ORDER BY t.sequence DESC").limit(limit);
    } else if let [account] = filter.accounts.as_slice() {
        account_branch(&mut s, &columns, *account, filter, before, limit);
    } else {
        // One ordered branch per account (its index range, newest first), a
        // transaction touching two of them found in both and kept once.
        s.push("SELECT * FROM (");
        for (i, account) in filter.accounts.iter().enumerate() {
            s.push(if i > 0 { " UNION " } else { "" }).push("SELECT * FROM (");
            account_branch(&mut s, &columns, *account, filter, before, limit);
            s.push(&format!(") AS branch{i}"));
        }
        s.push(") AS history ORDER BY sequence DESC").limit(limit);
    }
    s
}

/// One account's history, newest first, through `account_transactions`'
/// primary key. With nothing else to filter on, the newest `limit` rows of
/// the account's range are taken first and only they are joined, so a page
/// costs `limit` lookups however long the history and whatever the planner
/// thinks of the account; with other filters the join is the planner's.
fn account_branch(
    s: &mut Stmt,
    columns: &str,
    account: AccountId,
    filter: &HistoryFilter,
    before: Option<u64>,
    limit: usize,
) {
    let newest_first = !filters_transaction_fields(filter);
    if newest_first {
        s.push(&format!("SELECT {columns} FROM (SELECT sequence FROM account_transactions"));
    } else {
        s.push(&format!("SELECT {columns} FROM account_transactions a JOIN transactions t ON t.sequence = a.sequence"));
    }
    let prefix = if newest_first { "" } else { "a." };
    s.push(&format!(" WHERE {prefix}account_id = ")).bind(Value::Uuid(*account.as_uuid()));
    sealed_before(s, &format!("{prefix}sequence"), before);
    if newest_first {
        s.push(" ORDER BY sequence DESC").limit(limit);
        s.push(") AS a JOIN transactions t ON t.sequence = a.sequence");
    } else {
        history_conditions(s, filter, 0);
    }
    s.push(" ORDER BY a.sequence DESC").limit(limit);
}

/// The sealed rows of `column`'s range below the cursor: `column > 0` and,
/// with a cursor, `column < before`, one range of the index the branch
/// reads backwards.
fn sealed_before(s: &mut Stmt, column: &str, before: Option<u64>) {
    s.push(&format!(" AND {column} > 0"));
    if let Some(before) = before {
        s.push(&format!(" AND {column} < ")).bind(Value::Int(int(before)));
    }
}

/// Whether the filter names anything of the transaction row itself (beyond
/// its accounts and the cursor).
fn filters_transaction_fields(filter: &HistoryFilter) -> bool {
    filter.kind.is_some()
        || filter.status.is_some()
        || filter.created_from.is_some()
        || filter.created_until.is_some()
        || filter.amount_min.is_some()
        || filter.amount_max.is_some()
        || !filter.metadata.is_empty()
}

/// The filter's fields other than accounts and the metadata pairs from
/// `pairs_from` on, as `AND` terms on `t`.
fn history_conditions(s: &mut Stmt, filter: &HistoryFilter, pairs_from: usize) {
    if let Some(kind) = filter.kind {
        s.push(" AND t.kind = ").bind(Value::Text(kind.as_str().to_owned()));
    }
    if let Some(status) = filter.status {
        s.push(" AND t.status = ").bind(Value::Text(status.as_str().to_owned()));
    }
    if let Some(from) = filter.created_from {
        s.push(" AND t.created_at >= ").bind(Value::Time(micros_ceil(from)));
    }
    if let Some(until) = filter.created_until {
        s.push(" AND t.created_at < ").bind(Value::Time(micros_ceil(until)));
    }
    if let Some(min) = filter.amount_min {
        s.push(" AND t.amount >= ").bind(Value::AmountAtLeast(min));
    }
    if let Some(max) = filter.amount_max {
        s.push(" AND t.amount <= ").bind(Value::AmountAtMost(max));
    }
    for (key, value) in filter.metadata.iter().skip(pairs_from) {
        s.push(" AND EXISTS (SELECT 1 FROM transaction_metadata x WHERE x.key = ").bind(Value::Text(key.clone()));
        s.push(" AND x.value = ").bind(Value::Text(value.clone())).push(" AND x.sequence = t.sequence)");
    }
}

#[cfg(test)]
mod tests {
    use ledger_core::TransactionKind;

    use super::*;

    #[test]
    fn history_of_one_account_is_one_index_range_and_of_two_a_union() {
        let account = AccountId::new();
        let s = history(Dialect::Postgres, &HistoryFilter::account(account), Some(10), 5);
        assert_eq!(s.args().len(), 2, "{}", s.sql());
        let newest = "(SELECT sequence FROM account_transactions WHERE account_id = $1 AND sequence > 0 AND sequence < $2 \
                      ORDER BY sequence DESC LIMIT 5) AS a JOIN transactions t";
        assert!(s.sql().contains(newest), "{}", s.sql());
        let transfers = HistoryFilter { kind: Some(TransactionKind::Transfer), ..HistoryFilter::account(account) };
        let s = history(Dialect::Postgres, &transfers, Some(10), 5);
        assert!(
            s.sql().contains("WHERE a.account_id = $1 AND a.sequence > 0 AND a.sequence < $2 AND t.kind = $3"),
            "{}",
            s.sql()
        );
        assert!(s.sql().ends_with("ORDER BY a.sequence DESC LIMIT 5"), "{}", s.sql());
        let two = HistoryFilter { accounts: vec![account, AccountId::new()], ..HistoryFilter::default() };
        let s = history(Dialect::Postgres, &two, None, 5);
        assert!(s.sql().contains(") AS branch0 UNION SELECT * FROM ("), "{}", s.sql());
        assert!(s.sql().ends_with(") AS history ORDER BY sequence DESC LIMIT 5"), "{}", s.sql());
    }

    #[test]
    fn history_by_metadata_drives_from_the_first_pairs_range_and_probes_the_rest() {
        let account = AccountId::new();
        let filter = HistoryFilter {
            metadata: vec![("order_id".into(), "A-1".into()), ("channel".into(), "web".into())],
            ..HistoryFilter::account(account)
        };
        let s = history(Dialect::Postgres, &filter, Some(10), 5);
        let sql = s.sql();
        assert!(sql.contains("FROM transaction_metadata m JOIN transactions t ON t.sequence = m.sequence"), "{sql}");
        assert!(sql.contains("WHERE m.key = $1 AND m.value = $2 AND m.sequence > 0 AND m.sequence < $3"), "{sql}");
        assert!(sql.contains("EXISTS (SELECT 1 FROM account_transactions y WHERE y.account_id IN ($4)"), "{sql}");
        assert!(sql.contains("x.key = $5 AND x.value = $6 AND x.sequence = t.sequence"), "{sql}");
        assert!(sql.ends_with("ORDER BY m.sequence DESC LIMIT 5"), "{sql}");
        assert_eq!(s.args().len(), 6);
    }
}
