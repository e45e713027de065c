// The two DOM helpers every console module uses.

export const $ = (id) => document.getElementById(id);

/** el("li", {className: "alert"}, child, "text", ...): an element with properties and children. */
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}
