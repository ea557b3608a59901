-- The data document of scripts/opa/policy.rego, built from the database the
-- bench serves: people with their attribute persona, peer coverage per
-- (attribute persona, entitlement), and catalogue tiers. Run with
-- `jitscore sql --format json`; the single column is data.org.
SELECT json_object(
  'people', (SELECT json_group_object(user_id, json_object('persona', persona_id))
             FROM persona_members WHERE kind = 'attribute'),
  'coverage', (SELECT json_group_object(group_id, ents) FROM (
                 SELECT group_id, json_group_object(entitlement,
                          json_object('members', members, 'granted', granted, 'used', used)) AS ents
                 FROM peer_coverage WHERE group_kind = 'attribute' GROUP BY group_id)),
  'tiers', (SELECT json_group_object(entitlement, tier) FROM entitlements WHERE tier IS NOT NULL)
) AS org
