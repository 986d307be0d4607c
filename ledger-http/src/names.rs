//! How people are named to other people: a customer's display name is their
//! first name and the initial of their last ("Alice N."), as a bank's
//! confirmation of payee shows it, never their full name, email or id.

use std::collections::{BTreeMap, HashMap};

use ledger_core::{AccountId, Actor, Ledger, UserId};
use uuid::Uuid;

/// "Alice Nakamura" -> "Alice N."; a single name stays as it is.
pub fn display_name(full_name: &str) -> String {
    let mut words = full_name.split_whitespace();
    let Some(first) = words.next() else { return String::new() };
    match words.last().and_then(|last| last.chars().next()) {
        Some(initial) => format!("{first} {}.", initial.to_uppercase()),
        None => first.to_owned(),
    }
}

/// The display names of the owners of `accounts` other than `reader`: the
/// customer accounts of other people among them, by account id. Accounts
/// that are the reader's, ledger accounts and unknown ids are left out.
pub async fn counterparty_names(
    ledger: &Ledger,
    reader: UserId,
    accounts: impl IntoIterator<Item = AccountId>,
) -> BTreeMap<Uuid, String> {
    let mut names = BTreeMap::new();
    let mut owners: HashMap<UserId, Option<String>> = HashMap::new();
    for id in accounts {
        if names.contains_key(id.as_uuid()) {
            continue;
        }
        let Ok(account) = ledger.account(&Actor::System, id).await else { continue };
        if !account.kind.is_customer() || account.owner == reader {
            continue;
        }
        let name = match owners.get(&account.owner) {
            Some(name) => name.clone(),
            None => {
                let name = ledger
                    .user(&Actor::System, account.owner)
                    .await
                    .ok()
                    .map(|user| display_name(&user.profile.full_name))
                    .filter(|name| !name.is_empty());
                owners.insert(account.owner, name.clone());
                name
            }
        };
        if let Some(name) = name {
            names.insert(*id.as_uuid(), name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn first_name_and_last_initial() {
        assert_eq!(display_name("Alice Nakamura"), "Alice N.");
        assert_eq!(display_name("  Bob   van der berg "), "Bob B.");
        assert_eq!(display_name("Cher"), "Cher");
        assert_eq!(display_name("élodie ørsted"), "élodie Ø.");
        assert_eq!(display_name(""), "");
    }
}
