// Paged lists: where a list page is (its filters, page size and offset, from the hash's
// query) and one page of a route, shown with dom.js's pager.
import { get, qs } from "./api.js";

export const MAX_PAGE = 500;

// The place of the list at `#/route`: `filters` (each of `names`, "" when unset), `limit`
// (`size` unless the query says), `offset`, and `go(changes)`, which moves to the same list
// with some of these changed (a new filter starts again at the first page).
export function listPlace(route, params, names, size) {
  const filters = Object.fromEntries(names.map((k) => [k, params.get(k) || ""]));
  const offset = Math.max(Math.floor(Number(params.get("offset"))) || 0, 0);
  const limit = Math.min(Math.max(Math.floor(Number(params.get("limit"))) || size, 1), MAX_PAGE);
  const go = (changes) => {
    const next = { ...filters, limit: limit === size ? null : limit, offset: null, ...changes };
    location.hash = `#/${route}${qs({ ...next, offset: next.offset || null })}`;
  };
  return { filters, limit, offset, go };
}

// One page of a route that answers a plain list (/data, /audit), in the shape /runs answers
// ({items, limit, offset, next_offset}): asked for one more than `limit`, the extra one says
// a next page exists (as podium.api.deps.page does on the server).
export async function getListPage(path, params, { limit, offset }) {
  const rows = await get(`${path}${qs({ ...params, limit: limit + 1, offset: offset || null })}`);
  const more = rows.length > limit;
  return { items: rows.slice(0, limit), limit, offset, next_offset: more ? offset + limit : null };
}
