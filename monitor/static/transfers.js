// A person moved to another office (person.transferred, sent to the office they left; the moved
// alerts reach the new office as alert.updated). A console that no longer sees them drops their
// open alerts, dot, Persons row and lapsing-order notices at once and says where the case went;
// one that still sees the new office (a district, the city) renames the office in place.

export class Transfers {
  /**
   * jurisdictions: id → the offices this officer sees; persons: the map's latest positions;
   * notices: the notice list's entries (order id → lapsing order), transfer notices added to it.
   */
  constructor({ jurisdictions, persons, map, alertList, roster, notices }) {
    Object.assign(this, { jurisdictions, persons, map, alertList, roster, notices });
  }

  receive(message) {
    const personId = message.person_id, office = this.jurisdictions.get(message.to_jurisdiction_id);
    const moved = new Set(message.alert_ids ?? []);
    if (office) return this.renamed(personId, moved, office);
    this.persons.delete(personId);
    if (this.map.selected?.personId === personId) this.map.selected = null;
    this.map.schedule();
    for (const a of this.alertList.alerts.values()) {
      if (moved.has(a.id) || (a.person_id === personId && a.status !== "resolved")) this.alertList.alerts.delete(a.id);
    }
    this.alertList.render();
    this.roster.moved(personId, null);
    for (const [key, notice] of this.notices) if (notice.person_id === personId) this.notices.delete(key);
    this.notices.set(`transfer-${message.id}`, { kind: "transfer", ...message });
  }

  /** Still in reach: rows loaded from the API carry the old office's name, and the moved
   * alerts' alert.updated events carry none, so the name is set here. */
  renamed(personId, moved, office) {
    for (const id of moved) {
      const a = this.alertList.alerts.get(id);
      if (a) Object.assign(a, { jurisdiction_id: office.id, jurisdiction_name: office.name });
    }
    this.alertList.render();
    this.roster.moved(personId, office.name);
  }
}
