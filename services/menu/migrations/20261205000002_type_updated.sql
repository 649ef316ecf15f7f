-- The owner edits what an item says about itself (descriptions, allergens): recorded as
-- `type_updated` (expand only).
ALTER TABLE catalog_change DROP CONSTRAINT catalog_change_kind_check;
ALTER TABLE catalog_change ADD CONSTRAINT catalog_change_kind_check
    CHECK (kind IN ('pizza_updated', 'pizza_added', 'type_added', 'branch_availability',
                    'option_updated', 'type_updated'));
