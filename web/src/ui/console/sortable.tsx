// Drag-and-drop reordering (SortableJS) for the console's lists: the setlist editor and the slots.
// SortableJS moves DOM nodes itself; the node is put back where Preact left it and the new order
// comes from the state the caller derives, so Preact stays the only owner of the list.
import { useEffect } from 'preact/hooks';
import type { RefObject } from 'preact';
import Sortable from 'sortablejs';

/** `list` with the element at `from` moved to `to`. */
export function moveItem<T>(list: T[], from: number, to: number): T[] {
  if (from === to || from < 0 || to < 0 || from >= list.length || to >= list.length) return list;
  const out = list.slice();
  const [x] = out.splice(from, 1);
  out.splice(to, 0, x);
  return out;
}

/** Makes the children of `ref` draggable by their `.drag-handle`; `onMove(from, to)` on a drop. */
export function useSortable(ref: RefObject<HTMLElement>, onMove: (from: number, to: number) => void, deps: unknown[]) {
  useEffect(() => {
    if (!ref.current) return;
    const sortable = Sortable.create(ref.current, {
      handle: '.drag-handle', animation: 150, forceFallback: true, fallbackTolerance: 4,
      ghostClass: 'drag-ghost', chosenClass: 'drag-chosen', dragClass: 'drag-drag',
      onEnd: (e) => {
        const from = e.oldDraggableIndex, to = e.newDraggableIndex;
        const parent = e.from;
        parent.removeChild(e.item);
        parent.insertBefore(e.item, parent.children[from ?? 0] ?? null);
        if (from !== undefined && to !== undefined && from !== to) onMove(from, to);
      },
    });
    return () => sortable.destroy();
  }, deps);
}

/** Six dots: the drag handle (an SVG, so no font needs a glyph for it). */
export function Grip() {
  return (
    <svg viewBox="0 0 12 18" width="14" height="21" aria-hidden="true">
      {[3, 9].flatMap((x) => [3, 9, 15].map((y) => <circle cx={x} cy={y} r="1.7" fill="currentColor" />))}
    </svg>
  );
}
